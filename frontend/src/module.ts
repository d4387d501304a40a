import { DataSourcePlugin } from '@grafana/data';

import { ConfigEditor } from './components/ConfigEditor';
import { QueryEditor } from './components/QueryEditor';
import { DataSource } from './datasource';
import { AwxOptions, AwxQuery, AwxSecureJsonData } from './types';

export const plugin = new DataSourcePlugin<DataSource, AwxQuery, AwxOptions, AwxSecureJsonData>(DataSource)
  .setConfigEditor(ConfigEditor)
  .setQueryEditor(QueryEditor);
