// Streamlit's custom-component protocol (components v1), in the three messages this engine needs.
// The official helper, streamlit-component-lib, brings React and Apache Arrow (hundreds of KB) for
// what is, for a component that only sends JSON, a handful of postMessage calls.

const API_VERSION = 1;

function send(type, data = {}) {
  window.parent.postMessage({isStreamlitMessage: true, type, ...data}, '*');
}

/** Calls `onRender(args)` on every render Streamlit sends (the page's settings), then says we are ready. */
export function connect(onRender) {
  window.addEventListener('message', (event) => {
    if (event.data?.type === 'streamlit:render') onRender(event.data.args || {});
  });
  send('streamlit:componentReady', {apiVersion: API_VERSION});
}

/** Hands a JSON value to the Python side: the page script (or its fragment) runs again with it. */
export function setValue(value) {
  send('streamlit:setComponentValue', {value, dataType: 'json'});
}

export function setHeight(height) {
  send('streamlit:setFrameHeight', {height});
}
