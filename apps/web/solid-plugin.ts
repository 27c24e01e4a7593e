// A Bun plugin that compiles Solid JSX (.tsx/.jsx) for the HTML bundler and Bun.build: Babel with
// babel-preset-solid turns JSX into DOM code, then Bun strips the types. Knows nothing of chatbox.
import type { BunPlugin } from 'bun'

/** The one Babel call used here; @babel/core ships no types of its own. */
interface Babel {
  transformAsync(
    source: string,
    options: Record<string, unknown>,
  ): Promise<{ code?: string | null } | null>
}

/** A variable, so the type checker takes the untyped module as `Babel` rather than refusing it. */
const BABEL = '@babel/core'

/**
 * Bun's own transpiler cannot leave JSX in place (it always compiles it for React-style
 * runtimes), and @babel/preset-typescript is not a dependency. So Babel only parses TypeScript,
 * the Solid preset compiles the JSX, and the result goes back to Bun as `ts`, which drops the
 * type syntax Babel printed as it found it.
 */
export const solidPlugin: BunPlugin = {
  name: 'solid',
  setup(build) {
    build.onLoad({ filter: /\.[jt]sx$/ }, async ({ path }) => {
      // Loaded here, not at the top: a process that never bundles the page never loads Babel.
      const { transformAsync } = (await import(BABEL)) as Babel
      const source = await Bun.file(path).text()
      const typescript = path.endsWith('.tsx')
      const result = await transformAsync(source, {
        filename: path,
        babelrc: false,
        configFile: false,
        sourceMaps: false,
        parserOpts: { plugins: typescript ? ['jsx', 'typescript'] : ['jsx'] },
        presets: [['babel-preset-solid', { generate: 'dom' }]],
      })
      if (typeof result?.code !== 'string') throw new Error(`babel returned nothing for ${path}`)
      return { contents: result.code, loader: typescript ? 'ts' : 'js' }
    })
  },
}

export default solidPlugin
