/**
 * Reads a privacy request (or anything with a `status`) every 200 ms until it is `done` or `failed`, for at most
 * `tries` reads (30 s by default); the last read is returned either way, for the test to assert on.
 */
export async function settled<T extends { status: string }>(read: () => Promise<T | undefined>, tries = 150): Promise<T | undefined> {
  let last = await read();
  for (let i = 0; i < tries && last?.status !== 'done' && last?.status !== 'failed'; i++) {
    await new Promise((r) => setTimeout(r, 200));
    last = await read();
  }
  return last;
}
