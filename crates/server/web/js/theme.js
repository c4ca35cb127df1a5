// Light and dark: the system's choice (prefers-color-scheme) unless the user
// picked one with the toggle, which is remembered. The choice is a
// `data-theme` attribute on <html>; style.css does the rest.

import { storage } from './storage.js';

const darkQuery = window.matchMedia('(prefers-color-scheme: dark)');

export function effectiveTheme() {
  return document.documentElement.dataset.theme || (darkQuery.matches ? 'dark' : 'light');
}

export function applyStoredTheme() {
  const theme = storage.theme;
  if (theme) document.documentElement.dataset.theme = theme;
  else delete document.documentElement.dataset.theme;
}

/** Switches to the other theme and remembers it; switching back to the
 *  system's own choice forgets the override, so the page follows the system again. */
export function toggleTheme() {
  const next = effectiveTheme() === 'dark' ? 'light' : 'dark';
  const system = darkQuery.matches ? 'dark' : 'light';
  if (next === system) {
    delete document.documentElement.dataset.theme;
    storage.theme = null;
  } else {
    document.documentElement.dataset.theme = next;
    storage.theme = next;
  }
  return next;
}

export function onSystemThemeChange(callback) {
  darkQuery.addEventListener('change', callback);
}
