// Jest: jsdom + @swc/jest. Grafana's packages pull in a few ESM-only modules, which are transformed too.
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
