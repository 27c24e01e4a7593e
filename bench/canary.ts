// An idle process on the server's core that only measures how late its own 5 ms timer fires. The
// server's stalls come from its own work (a collection, a long task) only if this one stays on
// time meanwhile; when both are late together, the core was taken from both (the kernel, the
// hypervisor of this shared machine). Answers each IPC message with its lag since the last.
import { IDLE_ACCOUNTED_STALL_MS, startLagMonitor } from './lag.ts'

const lag = startLagMonitor(IDLE_ACCOUNTED_STALL_MS)
process.on('message', () => process.send?.(lag.take()))
process.on('disconnect', () => process.exit(0))
// Kept alive by the IPC channel; the monitor's timer is unref'd.
