// What a line typed in the terminal means: a message or one of the slash commands. Pure parsing;
// carrying a command out is chat.ts's job.

export type Command =
  | { readonly kind: 'message'; readonly text: string }
  | { readonly kind: 'help' }
  | { readonly kind: 'who' }
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'verify'; readonly name: string }
  | { readonly kind: 'trust'; readonly name: string }
  | { readonly kind: 'room' }
  | { readonly kind: 'quit' }
  | { readonly kind: 'invalid'; readonly problem: string }

export const HELP = [
  '/help            this list',
  '/who             who is here, with key fingerprints and verified marks',
  '/file PATH       send a .txt file',
  '/verify NAME     show the safety number to compare with NAME (then mark them verified)',
  '/trust NAME      accept the changed key of NAME',
  '/room            the room code: everyone in the group sees the same one',
  '/quit            leave the room (Ctrl-C and Ctrl-D do too)',
  '//text           send a message that starts with /',
].join('\n')

export function parseCommand(line: string): Command {
  if (!line.startsWith('/') || line.startsWith('//')) {
    return { kind: 'message', text: line.startsWith('//') ? line.slice(1) : line }
  }
  const [word = '', ...rest] = line.slice(1).split(' ')
  const argument = rest.join(' ').trim()
  const needs = (what: string) => ({ kind: 'invalid' as const, problem: `/${word} needs ${what}` })
  switch (word.toLowerCase()) {
    case 'help':
      return { kind: 'help' }
    case 'who':
      return { kind: 'who' }
    case 'room':
      return { kind: 'room' }
    case 'quit':
    case 'exit':
      return { kind: 'quit' }
    case 'file':
      return argument ? { kind: 'file', path: argument } : needs('a PATH')
    case 'verify':
      return argument ? { kind: 'verify', name: argument } : needs('a NAME')
    case 'trust':
      return argument ? { kind: 'trust', name: argument } : needs('a NAME')
    default:
      return { kind: 'invalid', problem: `unknown command /${word}; /help lists them` }
  }
}
