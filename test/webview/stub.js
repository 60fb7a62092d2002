/* global window, document, sessionStorage, location, URLSearchParams */
// Stand-in for the acquireVsCodeApi that VS Code injects: records every posted message and keeps state.
(function () {
  let state = JSON.parse(sessionStorage.getItem('moeLensState') || 'null');
  window.__posted = [];
  window.acquireVsCodeApi = function () {
    return {
      postMessage: function (m) { window.__posted.push(JSON.parse(JSON.stringify(m))); },
      getState: function () { return state; },
      setState: function (s) { state = s; sessionStorage.setItem('moeLensState', JSON.stringify(s)); },
    };
  };
  const theme = new URLSearchParams(location.search).get('theme') || 'dark';
  document.body.classList.add('vscode-' + theme);
  window.__errors = [];
  window.addEventListener('error', function (e) { window.__errors.push(String(e.message)); });
  window.addEventListener('unhandledrejection', function (e) { window.__errors.push(String(e.reason)); });
})();
