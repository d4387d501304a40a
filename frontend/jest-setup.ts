// Polyfills jsdom lacks and Grafana's components need.
import '@testing-library/jest-dom';
import { configure } from '@testing-library/react';
import { TextDecoder, TextEncoder } from 'util';

Object.assign(global, { TextEncoder, TextDecoder });

// findBy*/waitFor give up after 1 s by default. A Combobox's options appear after its own 200 ms debounce and
// a few renders, which on a loaded 2-core machine can take most of that second; 5 s keeps a failing find's own
// message ("Unable to find role ...") well inside the test's 15 s timeout (jest.config.js).
configure({ asyncUtilTimeout: 5000 });

Object.defineProperty(window, 'matchMedia', {
  writable: true,
  value: (query: string) => ({
    matches: false,
    media: query,
    onchange: null,
    addListener: jest.fn(),
    removeListener: jest.fn(),
    addEventListener: jest.fn(),
    removeEventListener: jest.fn(),
    dispatchEvent: jest.fn(),
  }),
});

// Grafana measures text on a canvas (Combobox widths); uPlot asks for one at import time.
const fakeContext2d = {
  font: '',
  measureText: (text: string) => ({ width: text.length * 7 }),
  fillText: () => {},
  fillRect: () => {},
  clearRect: () => {},
  beginPath: () => {},
  stroke: () => {},
};
HTMLCanvasElement.prototype.getContext = jest.fn(
  () => fakeContext2d
) as unknown as HTMLCanvasElement['getContext'];

class NoopObserver {
  observe() {}
  unobserve() {}
  disconnect() {}
  takeRecords() {
    return [];
  }
}
Object.assign(global, { IntersectionObserver: NoopObserver, ResizeObserver: NoopObserver });

// The Combobox's virtualised menu renders nothing in a zero-sized box.
Object.defineProperties(HTMLElement.prototype, {
  offsetHeight: { get: () => 400, configurable: true },
  offsetWidth: { get: () => 400, configurable: true },
  clientHeight: { get: () => 400, configurable: true },
  clientWidth: { get: () => 400, configurable: true },
});
Element.prototype.scrollIntoView = jest.fn();

// i18next (inside @grafana/i18n) advertises itself on init: keep the test output about the tests.
const consoleInfo = console.info;
console.info = (...args: unknown[]) => {
  if (typeof args[0] === 'string' && args[0].includes('i18next')) {
    return;
  }
  consoleInfo(...args);
};
