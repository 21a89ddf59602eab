/**
 * Sizing of a portal pod around password hashing, shared by the Deployment plan (its memory
 * limit) and the portal (how many hashes it lets run at once), so the two always agree.
 */

/** Memory a Node portal needs besides password hashing: heap (capped at 160 MiB), code, caches. */
export const PORTAL_BASE_MEMORY_MIB = 256;

/** What one Argon2 job holds: its memory cost plus the binding's working set. */
export function hashJobMiB(memoryKiB: number): number {
  return Math.ceil((memoryKiB * 1.25) / 1024);
}

/**
 * How many hashes may run at once within a memory limit: what is left after the portal's base
 * memory, divided by one job's share; at least one, at most two per CPU (more only queues on the
 * thread pool). Without a limit, one per CPU.
 */
export function hashConcurrencyFor(
  memoryLimitBytes: number | undefined,
  memoryKiB: number,
  cpus: number,
): number {
  if (memoryLimitBytes === undefined) return Math.max(1, cpus);
  const spareMiB = memoryLimitBytes / 2 ** 20 - PORTAL_BASE_MEMORY_MIB;
  const fits = Math.floor(spareMiB / hashJobMiB(memoryKiB));
  return Math.min(Math.max(1, fits), Math.max(1, 2 * cpus));
}

/** The memory limit of a portal pod that runs `concurrency` Argon2 jobs of `memoryKiB` at once. */
export function portalMemoryMiB(concurrency: number, memoryKiB: number): number {
  return PORTAL_BASE_MEMORY_MIB + concurrency * hashJobMiB(memoryKiB);
}
