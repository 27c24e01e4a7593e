// Entry of the page: mounts the app over one chat. Knows which element to draw into and nothing
// of the engine.
import { render } from 'solid-js/web'
import { App } from './components/app.tsx'
import { createChat } from './lib/chat.ts'

const root = document.getElementById('app')
if (!root) throw new Error('index.html has no #app element')
render(() => {
  // Made once, inside the root so its effects are owned; written inline in the JSX it would be
  // a getter, and every read of `props.chat` would make a new chat.
  const chat = createChat()
  return <App chat={chat} />
}, root)
