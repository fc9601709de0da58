export async function nodeConfigCommand(_args: string[]): Promise<number> {
  return 1;
}
