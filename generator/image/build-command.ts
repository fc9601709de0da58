export async function imageBuildCommand(_args: string[]): Promise<number> {
  return 1;
}
