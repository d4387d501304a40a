// Builds Grafana's AMD module.js for the AWX data source into the repo-level dist/, next to the backend binaries.
'use strict';

const path = require('path');
const CopyWebpackPlugin = require('copy-webpack-plugin');

const pkg = require('./package.json');
const pluginJson = require('./src/plugin.json');

const DIST = path.resolve(__dirname, '../dist');
const REPO = path.resolve(__dirname, '..');

// Provided by Grafana at run time (SystemJS/AMD): never bundled.
const EXTERNALS = [
  '@grafana/data',
  '@grafana/ui',
  '@grafana/runtime',
  '@grafana/schema',
  '@grafana/i18n',
  '@grafana/e2e-selectors',
  'react',
  'react-dom',
  'react/jsx-runtime',
  'rxjs',
  'rxjs/operators',
  'lodash',
  '@emotion/css',
  '@emotion/react',
];

/** plugin.json with its placeholders filled in. */
function fillPluginJson(content) {
  const today = new Date().toISOString().slice(0, 10);
  return content.toString().replace(/%VERSION%/g, pkg.version).replace(/%TODAY%/g, today);
}

module.exports = (_env, argv) => {
  const production = argv.mode !== 'development';
  return {
    mode: production ? 'production' : 'development',
    context: __dirname,
    entry: { module: './src/module.ts' },
    devtool: 'source-map',
    target: 'web',
    output: {
      path: DIST,
      filename: '[name].js',
      library: { type: 'amd' },
      publicPath: `public/plugins/${pluginJson.id}/`,
      uniqueName: pluginJson.id,
      // The backend's binaries (gpx_awx_<os>_<arch>) live in dist/ too: never wipe them.
      clean: { keep: /(^|[\\/])gpx_awx_/ },
    },
    externals: [
      ...EXTERNALS,
      // Anything else Grafana exposes under grafana/ (none used today; future-proof).
      ({ request }, callback) => (request && request.startsWith('grafana/') ? callback(undefined, request) : callback()),
    ],
    resolve: {
      extensions: ['.ts', '.tsx', '.js', '.jsx'],
    },
    module: {
      rules: [
        {
          test: /\.[tj]sx?$/,
          exclude: /node_modules/,
          use: {
            loader: 'swc-loader',
            options: {
              jsc: {
                parser: { syntax: 'typescript', tsx: true },
                target: 'es2020',
                transform: { react: { runtime: 'automatic' } },
              },
            },
          },
        },
      ],
    },
    plugins: [
      new CopyWebpackPlugin({
        patterns: [
          { from: 'src/plugin.json', to: 'plugin.json', transform: fillPluginJson },
          { from: 'src/img', to: 'img' },
          { from: path.join(REPO, 'README.md'), to: 'README.md', noErrorOnMissing: true },
          { from: path.join(REPO, 'CHANGELOG.md'), to: 'CHANGELOG.md', noErrorOnMissing: true },
          { from: path.join(REPO, 'LICENSE'), to: 'LICENSE', noErrorOnMissing: true },
          {
            from: '*.json',
            context: path.join(REPO, 'dashboards'),
            to: 'dashboards/[name][ext]',
            noErrorOnMissing: true,
          },
        ],
      }),
    ],
    performance: { hints: false },
    stats: 'errors-warnings',
  };
};
