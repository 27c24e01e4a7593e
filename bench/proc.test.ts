// The bench's servers at a nice value: the soak runs its server at SOAK_NICE, and reports the
// value the process really got (nice(1) runs a command unchanged when it may not raise it).
import { expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { getPriority } from 'node:os'
import { until } from '../tests/support/until.ts'
import { niced, niceOf } from './proc.ts'

test('nice 0 or none leaves the command as it is', () => {
  expect(niced(undefined, ['bun', 'x.ts'])).toEqual(['bun', 'x.ts'])
  expect(niced(0, ['bun', 'x.ts'])).toEqual(['bun', 'x.ts'])
})

test('a process started niced runs at that nice value, and niceOf reads it', async () => {
  // Lowering a priority needs no right: 5 more than this process's own, 19 at most.
  const own = getPriority(0)
  expect(niceOf(process.pid)).toBe(own)
  const child = Bun.spawn(niced(5, ['sleep', '30']), { stdout: 'ignore', stderr: 'ignore' })
  try {
    // Once nice has set the value it becomes the command (exec): read it from then on.
    await until(() => readFileSync(`/proc/${child.pid}/comm`, 'utf8').trim() === 'sleep', 'sleep')
    expect(niceOf(child.pid)).toBe(Math.min(19, own + 5))
  } finally {
    child.kill()
    await child.exited
  }
  expect(niceOf(child.pid)).toBeUndefined()
})
