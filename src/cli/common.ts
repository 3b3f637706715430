export function collectList(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
