type Meta = {
  metadata: { generation?: number; labels?: Record<string, string>; deletionTimestamp?: Date };
};

/** Whether an update changed what a controller acts on: spec (generation), labels or deletion. */
export function meaningfulUpdate(old: Meta | undefined, next: Meta): boolean {
  if (!old) return true;
  return (
    old.metadata.generation !== next.metadata.generation ||
    JSON.stringify(old.metadata.labels ?? {}) !== JSON.stringify(next.metadata.labels ?? {}) ||
    String(old.metadata.deletionTimestamp) !== String(next.metadata.deletionTimestamp)
  );
}
