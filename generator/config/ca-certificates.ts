// image.caCertificates on disk: the image build copies each file from the repository into the
// host trust store, so each must be a real certificate file of the repository itself.
import { readFileSync, realpathSync, statSync } from "node:fs";
import { basename, join, relative, sep } from "node:path";
import { UserError, type Diagnostic } from "../errors.ts";
import { formatPath, type Locate } from "./load.ts";
import type { HomelabConfig } from "./schema.ts";

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/;

/**
 * Throws UserError unless every entry is a regular PEM certificate file inside repoDir (the
 * internal root CA's own file, rootPath, is made by the generator and may not exist yet).
 */
export function checkCaCertificateFiles(config: HomelabConfig, repoDir: string, rootPath: string, locate: Locate): void {
  const problems: Diagnostic[] = [];
  config.image.caCertificates.forEach((path, i) => {
    const problem = path === rootPath ? undefined : fileProblem(path, repoDir, rootPath);
    if (!problem) return;
    const keyPath = ["image", "caCertificates", i];
    problems.push({ file: "homelab.yaml", ...locate(keyPath), path: formatPath(keyPath), ...problem });
  });
  if (problems.length > 0) throw new UserError(problems);
}

function fileProblem(path: string, repoDir: string, rootPath: string): { message: string; hint: string } | undefined {
  // The anchors folder is flat: a second file under the root's name would replace it.
  if (basename(path) === basename(rootPath)) {
    return { message: `has the file name of the internal root CA (${rootPath}), which the image adds itself`, hint: `rename the file, or list ${rootPath} itself` };
  }
  const repo = realpathSync(repoDir);
  let real: string;
  try {
    real = realpathSync(join(repoDir, path));
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === "ENOENT";
    return { message: missing ? `${path} does not exist in the repository` : `cannot read ${path}: ${(error as Error).message}`, hint: "add the PEM file there, or remove the entry" };
  }
  if (real !== join(repo, path)) {
    const inside = relative(repo, real);
    return inside.startsWith(`..${sep}`) || inside === ".."
      ? { message: `${path} is a symlink that leaves the repository (to ${real})`, hint: "copy the certificate into the repository: the image build only sees the repository" }
      : { message: `${path} is reached through a symlink (to ${inside})`, hint: `name ${inside} itself: the image build copies exactly the listed paths` };
  }
  const stat = statSync(real);
  if (stat.isDirectory()) return { message: `${path} is a folder, not a certificate file`, hint: "name each PEM file in it" };
  if (!stat.isFile()) return { message: `${path} is not a regular file (a device, socket or pipe)`, hint: "name a PEM certificate file" };
  if (!PEM_CERTIFICATE.test(readFileSync(real, "utf8"))) {
    return { message: `${path} holds no PEM certificate (-----BEGIN CERTIFICATE----- to -----END CERTIFICATE-----)`, hint: "convert a DER file with openssl x509 -inform der -in ca.der -out ca.crt, or copy a cut one again" };
  }
  return undefined;
}
