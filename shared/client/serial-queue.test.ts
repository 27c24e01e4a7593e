import { describe, expect, test } from 'bun:test'
import { SerialQueue } from './serial-queue.ts'

describe('SerialQueue', () => {
  test('runs steps one at a time in the order given, even when they wait', async () => {
    const queue = new SerialQueue()
    const order: string[] = []
    const slow = Promise.withResolvers<void>()
    queue.push(
      async () => {
        order.push('first starts')
        await slow.promise
        order.push('first ends')
      },
      () => {},
    )
    const second = queue.run(async () => {
      order.push('second')
      return 2
    })
    await Promise.resolve()
    expect(order).toEqual(['first starts'])
    slow.resolve()
    expect(await second).toBe(2)
    expect(order).toEqual(['first starts', 'first ends', 'second'])
  })

  test('reports a failed step and goes on with the next', async () => {
    const queue = new SerialQueue()
    const failures: unknown[] = []
    queue.push(
      async () => {
        throw new Error('broken frame')
      },
      (error) => failures.push((error as Error).message),
    )
    await expect(queue.run(async () => 'next')).resolves.toBe('next')
    expect(failures).toEqual(['broken frame'])
    await expect(queue.run(async () => Promise.reject(new Error('mine')))).rejects.toThrow('mine')
    await queue.idle()
  })
})
