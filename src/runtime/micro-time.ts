/**
 * A Kubernetes MicroTime ("2006-01-02T15:04:05.000000Z"). client-node types these fields as
 * Date but passes them through unserialized, and JSON.stringify of a Date has only
 * millisecond precision, which the API server refuses; so the string goes in the Date's place.
 */
export function microTime(date: Date): Date {
  return date.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z") as unknown as Date;
}
