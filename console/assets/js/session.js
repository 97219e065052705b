// The signed-in token and what the API says it is. The token lives in
// sessionStorage (this tab only, gone when it closes), never in the URL.
const KEY = 'fila.console.token';
let who = null;
let onExpired = () => {};

export const session = {
  token: () => sessionStorage.getItem(KEY) || '',
  signedIn: () => Boolean(sessionStorage.getItem(KEY)),
  start(token, identity) { sessionStorage.setItem(KEY, token); who = identity; },
  end() { sessionStorage.removeItem(KEY); who = null; },
  who: () => who,
  setWho(identity) { who = identity; },
  isOperator: () => who?.role === 'operator',
  onExpired(fn) { onExpired = fn; },
  expired() { onExpired(); },
};
