// Nodes: `homelab node-config` through the real CLI (host files, modes, the join token and
// registry credentials from the secret store, the age key only on servers, refusals), the
// install configs for bootc-image-builder, and the config rules for the administrator.
import { spawnSync } from "node:child_process";
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { generateIdentity, identityToRecipient } from "age-encryption";
import { parse as parseToml } from "smol-toml";
import { beforeAll, describe, expect, test } from "vitest";
import { parse as parseYaml } from "yaml";
import { parseConfig } from "../generator/config/load.ts";
import { render } from "../generator/generate.ts";
import { k3sNodeConfig } from "../generator/nodes/host-files.ts";
import { decryptDocument } from "../generator/secrets/sops.ts";
import { configErrorOf, demoKeyFile, minimalConfig, tempDir, tempRepo } from "./support/render.ts";

const cli = join(import.meta.dirname, "..", "bin", "homelab.js");
const demoIdentity = readFileSync(demoKeyFile, "utf8").split("\n").find((l) => l.startsWith("AGE-SECRET-KEY-"))!;
const recipient = "age1gkzd20j67qr0cpelrm223u90x0dj05xjk9kn3pad55tja777svqqpg5h5l";
const sshKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKfh9mLR/Pi26VUTZgIL2SRCPsIK1ngFkZZrZCw9+Zd6 test@nodes";

const multiNode = `cluster:
  name: home
  domain: home.arpa
  nodes:
    - {name: hearth, role: server, address: 192.168.1.10}
    - {name: shed, role: agent, address: 192.168.1.11}
    - {name: den, role: agent, gpu: true}
secrets:
  ageRecipients: [${recipient}]
image:
  admin:
    name: ops
    sshKey: ${sshKey}
gpu:
  nvidia: true
`;

function nodeConfig(dir: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  return spawnSync(process.execPath, [cli, "node-config", ...args], { cwd: dir, encoding: "utf8", env });
}

function read(dir: string, path: string): string {
  return readFileSync(join(dir, path), "utf8");
}

async function storeValue(repo: string, name: string): Promise<string> {
  return String((await decryptDocument(read(repo, `secrets/${name}.sops.yaml`), [demoIdentity])).data.value);
}

/** Every entry below dir, with its lstat. */
function entries(dir: string) {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).map((e) => {
    const path = join(e.parentPath, e.name);
    return { path: relative(dir, path), stat: lstatSync(path) };
  });
}

describe("node-config on a cluster with a server, an agent and a GPU agent", () => {
  const out: Record<string, string> = {};
  const runs: ReturnType<typeof nodeConfig>[] = [];
  let repo: string;
  beforeAll(() => {
    repo = tempRepo(multiNode).dir;
    for (const name of ["hearth", "shed", "den"]) {
      out[name] = join(tempDir("homelab-node-"), name);
      runs.push(nodeConfig(repo, [name, "--out", out[name]!]));
    }
  });

  test("each run succeeds and writes a private tree: 0700 folders, 0600 files, the unit link", () => {
    for (const run of runs) expect(run.status, run.stderr).toBe(0);
    for (const [name, dir] of Object.entries(out)) {
      expect(lstatSync(dir).mode & 0o777, dir).toBe(0o700);
      for (const { path, stat } of entries(dir)) {
        if (stat.isDirectory()) expect(stat.mode & 0o777, `${name}: ${path}`).toBe(0o700);
        else if (stat.isFile()) expect(stat.mode & 0o777, `${name}: ${path}`).toBe(0o600);
      }
    }
    const files = (dir: string) => entries(dir).filter((e) => !e.stat.isDirectory()).map((e) => e.path).sort();
    expect(files(out.hearth!)).toEqual([
      "README.txt",
      "etc/homelab/age.key",
      "etc/ostree/auth.json",
      "etc/rancher/k3s/config.yaml.d/50-node.yaml",
      "etc/systemd/system/multi-user.target.wants/k3s.service",
    ]);
    expect(readlinkSync(join(out.hearth!, "etc/systemd/system/multi-user.target.wants/k3s.service"))).toBe("/usr/lib/systemd/system/k3s.service");
    expect(readlinkSync(join(out.shed!, "etc/systemd/system/multi-user.target.wants/k3s-agent.service"))).toBe("/usr/lib/systemd/system/k3s-agent.service");
    expect(existsSync(join(out.shed!, "etc/systemd/system/multi-user.target.wants/k3s.service"))).toBe(false);
  });

  test("k3s settings: node name and address, agents join the first server, the GPU node is labelled", () => {
    // Agents read their own config file: the image's server flags would stop `k3s agent`.
    const dropIn = (name: string) => (name === "hearth" ? "etc/rancher/k3s/config.yaml.d/50-node.yaml" : "etc/rancher/k3s/agent.yaml.d/50-node.yaml");
    const settings = (name: string) => parseYaml(read(out[name]!, dropIn(name))) as Record<string, unknown>;
    expect(existsSync(join(out.shed!, "etc/rancher/k3s/config.yaml.d"))).toBe(false);
    const hearth = settings("hearth");
    expect(hearth).toMatchObject({ "node-name": "hearth", "node-ip": "192.168.1.10" });
    // A single server: no server URL to join, and no etcd cluster to start.
    expect(hearth).not.toHaveProperty("server");
    expect(hearth).not.toHaveProperty("cluster-init");
    expect(settings("shed")).toMatchObject({ "node-name": "shed", "node-ip": "192.168.1.11", server: "https://192.168.1.10:6443" });
    expect(settings("shed")).not.toHaveProperty("node-label");
    const den = settings("den");
    expect(den).toMatchObject({ "node-name": "den", server: "https://192.168.1.10:6443", "node-label": ["nvidia.com/gpu.present=true"] });
    expect(den).not.toHaveProperty("node-ip");
  });

  test("one join token: the same on every node and the value in the secret store, created once", async () => {
    const token = await storeValue(repo, "k3s.token");
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    for (const name of Object.keys(out)) {
      const dropIn = name === "hearth" ? "etc/rancher/k3s/config.yaml.d/50-node.yaml" : "etc/rancher/k3s/agent.yaml.d/50-node.yaml";
      expect(parseYaml(read(out[name]!, dropIn)).token, name).toBe(token);
    }
    expect(runs[0]!.stdout).toContain("created secrets/k3s.token.sops.yaml");
    expect(runs[1]!.stdout).not.toContain("created secrets/k3s.token.sops.yaml");
  });

  test("the cluster's age key goes to the first server only", async () => {
    const key = read(out.hearth!, "etc/homelab/age.key");
    expect(key).toBe(`# public key: ${recipient}\n${demoIdentity}\n`);
    expect(await identityToRecipient(demoIdentity)).toBe(recipient);
    for (const agent of ["shed", "den"]) expect(existsSync(join(out[agent]!, "etc/homelab")), agent).toBe(false);
  });

  test("auth.json carries the read-only user's credentials for the registry host", async () => {
    const password = await storeValue(repo, "gitea.readerPassword");
    for (const name of Object.keys(out)) {
      const auths = JSON.parse(read(out[name]!, "etc/ostree/auth.json")).auths as Record<string, { auth: string }>;
      expect(Object.keys(auths), name).toEqual(["git.home.arpa"]);
      expect(Buffer.from(auths["git.home.arpa"]!.auth, "base64").toString()).toBe(`homelab-reader:${password}`);
    }
  });

  test("README.txt names the unit to enable and where the files go", () => {
    const server = read(out.hearth!, "README.txt");
    expect(server).toContain("sudo systemctl enable k3s.service\n  sudo systemctl reboot");
    expect(server).toContain("sudo install -D -Z -m 0600 etc/homelab/age.key /etc/homelab/age.key");
    expect(server).toContain("tar -cf - . | ssh ops@192.168.1.10 'mkdir -m 0700 node-files && tar -C node-files -xf -'");
    expect(server).toContain("journalctl -u homelab-bootstrap -f");
    expect(server).toContain("sudo bootc switch git.home.arpa/homelab/os:latest");
    const agent = read(out.den!, "README.txt");
    expect(agent).toContain("sudo systemctl enable k3s-agent.service");
    expect(agent).not.toContain("age.key");
    // The GPU node follows the NVIDIA variant.
    expect(agent).toContain("sudo bootc switch git.home.arpa/homelab/os-nvidia:latest");
  });

  test("no secret value reaches the output", async () => {
    const secrets = [await storeValue(repo, "k3s.token"), await storeValue(repo, "gitea.readerPassword"), demoIdentity];
    for (const run of runs) for (const secret of secrets) expect(run.stdout + run.stderr).not.toContain(secret);
  });
});

describe("node-config refuses", () => {
  test("a folder inside the repository, also through a symbolic link, and writes nothing", () => {
    const { dir } = tempRepo(multiNode);
    const inside = nodeConfig(dir, ["shed", "--out", join(dir, "nodes", "shed")]);
    expect(inside.status).toBe(1);
    expect(inside.stderr).toContain("is inside the repository");
    expect(existsSync(join(dir, "nodes"))).toBe(false);
    expect(existsSync(join(dir, "secrets"))).toBe(false);

    const link = join(tempDir("homelab-link-"), "repo");
    symlinkSync(dir, link);
    const throughLink = nodeConfig(dir, ["shed", "--out", join(link, "shed")]);
    expect(throughLink.status).toBe(1);
    expect(throughLink.stderr).toContain("is inside the repository");
  });

  test("an unknown node, listing the names", () => {
    const { dir } = tempRepo(multiNode);
    const run = nodeConfig(dir, ["barn", "--out", join(tempDir(), "barn")]);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('no node "barn" in cluster.nodes; the nodes are: hearth, shed, den');
  });

  test("a folder that already holds files", () => {
    const { dir } = tempRepo(multiNode);
    const target = tempDir();
    writeFileSync(join(target, "old"), "");
    const run = nodeConfig(dir, ["shed", "--out", target]);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("already exists and is not empty");
  });

  test("a server when the user's age key is not one of the config's recipients", async () => {
    const { dir } = tempRepo(multiNode);
    const home = tempDir("homelab-home-");
    const otherKey = join(home, "other.key");
    writeFileSync(otherKey, `${await generateIdentity()}\n`);
    const run = nodeConfig(dir, ["hearth", "--out", join(tempDir(), "hearth")], { PATH: process.env.PATH, HOME: home, SOPS_AGE_KEY_FILE: otherKey });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("none of your age keys");
    expect(existsSync(join(dir, "secrets"))).toBe(false);
  });

  test("a node that joins a first server without an address", () => {
    const { dir } = tempRepo(multiNode.replace("{name: hearth, role: server, address: 192.168.1.10}", "{name: hearth, role: server}"));
    const run = nodeConfig(dir, ["shed", "--out", join(tempDir(), "shed")]);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("shed joins the first server, hearth, at its address, and cluster.nodes gives it none");
  });
});

test("a second server joins the first and gets no age key: first boot runs only where the key is", () => {
  const { dir } = tempRepo(multiNode.replace("{name: shed, role: agent,", "{name: shed, role: server,"));
  const out = join(tempDir("homelab-node-"), "shed");
  const run = nodeConfig(dir, ["shed", "--out", out]);
  expect(run.status, run.stderr).toBe(0);
  expect(parseYaml(read(out, "etc/rancher/k3s/config.yaml.d/50-node.yaml"))).toMatchObject({ "node-name": "shed", server: "https://192.168.1.10:6443" });
  expect(readlinkSync(join(out, "etc/systemd/system/multi-user.target.wants/k3s.service"))).toBe("/usr/lib/systemd/system/k3s.service");
  expect(existsSync(join(out, "etc/homelab"))).toBe(false);
});

describe("k3s settings of servers", () => {
  const twoServers = (address: string) =>
    parseConfig(minimalConfig.replace("  domain: home.arpa\n", `  domain: home.arpa\n  nodes:\n    - {name: a, address: "${address}"}\n    - {name: b}\n`)).config;

  test("with more than one server the first starts the etcd cluster and the others join it", () => {
    const config = twoServers("192.168.1.10");
    const [a, b] = config.cluster.nodes!;
    expect(k3sNodeConfig(config, a!, "t")).toEqual({ "node-name": "a", "node-ip": "192.168.1.10", "cluster-init": true, token: "t" });
    expect(k3sNodeConfig(config, b!, "t")).toEqual({ "node-name": "b", server: "https://192.168.1.10:6443", token: "t" });
  });

  test("an IPv6 address is bracketed in the server URL", () => {
    const config = twoServers("fd00::10");
    expect(k3sNodeConfig(config, config.cluster.nodes![1]!, "t").server).toBe("https://[fd00::10]:6443");
  });
});

describe("image/install/<node>.toml", () => {
  test("one bootc-image-builder config per node, with the administrator and its key in wheel", async () => {
    const { files } = await render({ configPath: tempRepo(multiNode).configPath });
    const installs = files.filter((f) => f.path.startsWith("image/install/"));
    expect(installs.map((f) => f.path).sort()).toEqual(["image/install/den.toml", "image/install/hearth.toml", "image/install/shed.toml"]);
    for (const file of installs) {
      // The root's size is the disk check's business (test/first-boot.test.ts): here, that it is there.
      expect(parseToml(file.content), file.path).toEqual({
        customizations: { user: [{ name: "ops", key: sshKey, groups: ["wheel"] }], filesystem: [{ mountpoint: "/", minsize: expect.stringMatching(/^\d+ GiB$/) }] },
      });
      expect(file.content.startsWith("# generated by homelab from homelab.yaml")).toBe(true);
    }
    expect(installs.find((f) => f.path.endsWith("den.toml"))!.content).toContain("git.home.arpa/homelab/os-nvidia:latest");
    expect(installs.find((f) => f.path.endsWith("shed.toml"))!.content).toContain("git.home.arpa/homelab/os:latest");
  });

  test("without a key the user is still created, and the file says nobody can log in", async () => {
    const { files } = await render({ configPath: tempRepo(minimalConfig).configPath });
    const install = files.find((f) => f.path === "image/install/home.toml")!;
    expect(parseToml(install.content)).toEqual({
      customizations: { user: [{ name: "admin", groups: ["wheel"] }], filesystem: [{ mountpoint: "/", minsize: expect.stringMatching(/^\d+ GiB$/) }] },
    });
    expect(install.content).toContain("nobody can log in");
  });
});

describe("config: the administrator", () => {
  const withAdmin = (admin: string) => `${minimalConfig}image:\n  admin:\n${admin}`;
  const errorOf = configErrorOf;

  test.each([
    ["not a key line", withAdmin("    sshKey: AAAAC3NzaC1lZDI1NTE5 me\n"), 'homelab.yaml:9:13: image.admin.sshKey: expected an SSH public key line such as "ssh-ed25519 AAAA... you@laptop"'],
    ["a private key", withAdmin("    sshKey: -----BEGIN OPENSSH PRIVATE KEY-----\n"), "homelab.yaml:9:13: image.admin.sshKey: expected an SSH public key line"],
    ["a quote in the comment", withAdmin(`    sshKey: '${sshKey.replace("test@nodes", 'a"b')}'\n`), "homelab.yaml:9:13: image.admin.sshKey: expected an SSH public key line"],
    ["data of another key type", withAdmin(`    sshKey: ${sshKey.replace("ssh-ed25519", "ssh-rsa")}\n`), "homelab.yaml:9:13: image.admin.sshKey: the key data is cut or does not match its type"],
    ["a cut line", withAdmin(`    sshKey: ${sshKey.slice(0, 60)}\n`), "homelab.yaml:9:13: image.admin.sshKey: the key data is cut or does not match its type"],
    ["root", withAdmin("    name: root\n"), "homelab.yaml:9:11: image.admin.name: the administrator cannot be root"],
    ["a user name", withAdmin("    name: Admin\n"), "homelab.yaml:9:11: image.admin.name: expected a Linux user name"],
  ])("%s", (_name, text, expected) => {
    expect(errorOf(text)).toContain(expected);
  });

  test("every key type OpenSSH writes is accepted", () => {
    const field = (bytes: Buffer) => {
      const length = Buffer.alloc(4);
      length.writeUInt32BE(bytes.length);
      return Buffer.concat([length, bytes]);
    };
    const keyLine = (type: string) => `${type} ${Buffer.concat([field(Buffer.from(type)), field(Buffer.alloc(32, 7))]).toString("base64")} me@laptop`;
    for (const type of ["ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com"]) {
      const text = withAdmin(`    sshKey: ${keyLine(type)}\n`);
      expect(() => parseConfig(text), type).not.toThrow();
    }
  });

  test("no key is legal, with a warning", () => {
    const { config, warnings } = parseConfig(minimalConfig);
    expect(config.image.admin).toEqual({ name: "admin" });
    expect(warnings.map((w) => `${w.path}: ${w.message}`)).toContain("image.admin: no SSH key for the administrator: nobody can log in to an installed node");
  });

  test("other nodes need the first server's address: the warning points at it", () => {
    const { warnings } = parseConfig(minimalConfig.replace("  domain: home.arpa\n", "  domain: home.arpa\n  nodes:\n    - {name: a}\n    - {name: b, role: agent}\n"));
    expect(warnings.map((w) => `${w.line}:${w.col}:${w.path}: ${w.message}`)).toContain(
      "5:7:cluster.nodes[0]: the other nodes join the first server, a, at its address, and it has none",
    );
  });
});

describe("the install, upgrade and multi-node docs", () => {
  const docs = join(import.meta.dirname, "..", "docs");
  /** GitHub's heading anchors: lowercase, punctuation dropped, spaces to dashes. */
  const anchors = (text: string) =>
    new Set([...text.matchAll(/^#+ (.+)$/gm)].map(([, heading]) => heading!.toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, "").replace(/ /g, "-")));

  test.each(["install.md", "upgrades.md", "multi-node.md", "gpu.md"])("%s links to pages and headings that exist", (page) => {
    const text = readFileSync(join(docs, page), "utf8");
    for (const [link, file, anchor] of text.matchAll(/\]\((?!https?:)([^)#]*)(?:#([^)]*))?\)/g)) {
      const linked = file ? join(docs, file) : join(docs, page);
      expect(existsSync(linked), link).toBe(true);
      if (anchor) expect(anchors(readFileSync(linked, "utf8")).has(anchor), link).toBe(true);
    }
  });
});
