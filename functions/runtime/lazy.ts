/** A value made on first use and kept: a Lambda's composition root, built at its cold start rather than at import. */
export function lazy<T>(make: () => T): () => T {
  let made: { value: T } | undefined;
  return () => {
    made ??= { value: make() };
    return made.value;
  };
}
