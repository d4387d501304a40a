// Jest: jsdom + @swc/jest. Grafana's packages pull in a few ESM-only modules, which are transformed too.
//
// jest-environment-jsdom 30 (jsdom 26), not 29 (jsdom 20): jsdom 20 recomputes every getComputedStyle from
// scratch, walking all ancestors against every CSS rule, and Testing Library's *ByRole queries, user-event's
// pointer-events check and floating-ui call it for each element they look at. With Grafana's emotion CSS that
// was over half of each editor test's time; jsdom 21.1+ caches computed styles until the DOM changes. The
// slowest test went from 5.7 s to 0.9 s on a lightly loaded 2-core machine.
'use strict';

// ESM-only packages (package.json type=module without a require export), found by scanning node_modules.
const ESM_MODULES = [
  '@grafana/react-data-grid',
  '@wojtekmaj/date-utils',
  'd3',
  'd3-[a-z-]+',
  'delaunator',
  'earcut',
  'get-user-locale',
  'internmap',
  'marked',
  'memoize',
  'mimic-function',
  'ol',
  'pbf',
  'quick-lru',
  'quickselect',
  'rbush',
  'react-calendar',
  'react-colorful',
  'robust-predicates',
  'rxjs',
  'uuid',
  'uwrap',
];

module.exports = {
  testEnvironment: 'jsdom',
  roots: ['<rootDir>/src'],
  testMatch: ['<rootDir>/src/**/*.test.{ts,tsx}'],
  setupFilesAfterEnv: ['<rootDir>/jest-setup.ts'],
  // A test of an editor takes at most about 1 s on an idle 2-core machine and about 4 s when that machine runs
  // two busy loops beside Rust builds (load 7). Jest's default of 5 s leaves too little room there; 15 s still
  // stops a hung test quickly.
  testTimeout: 15000,
  reporters: ['default', '<rootDir>/jest-summary-reporter.js'],
  transform: {
    '^.+\\.(t|j)sx?$': [
      '@swc/jest',
      {
        jsc: {
          parser: { syntax: 'typescript', tsx: true },
          transform: { react: { runtime: 'automatic' } },
        },
      },
    ],
    '^.+\\.mjs$': ['@swc/jest', { jsc: { parser: { syntax: 'ecmascript' } } }],
  },
  transformIgnorePatterns: [`node_modules/(?!(${ESM_MODULES.join('|')})/)`],
  moduleNameMapper: {
    '\\.(css|scss|sass)$': '<rootDir>/src/__mocks__/style.ts',
    '^react-inlinesvg$': '<rootDir>/src/__mocks__/reactInlineSvg.tsx',
  },
  moduleFileExtensions: ['ts', 'tsx', 'js', 'jsx', 'mjs', 'cjs', 'json'],
};
