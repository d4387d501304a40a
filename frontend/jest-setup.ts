// Polyfills jsdom lacks and Grafana's components need.
import '@testing-library/jest-dom';
import { TextDecoder, TextEncoder } from 'util';

Object.assign(global, { TextEncoder, TextDecoder });

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
