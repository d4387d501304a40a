import { CustomVariableSupport, DataQueryRequest, DataQueryResponse } from '@grafana/data';
import { Observable } from 'rxjs';

import { VariableQueryEditor } from './components/VariableQueryEditor';
import type { DataSource } from './datasource';
import { AwxQuery } from './types';

/**
 * Query variables: a `lookup` query run through the backend; its frame has the fields `text` and `value`,
 * which Grafana turns into the variable's options.
 */
export class AwxVariableSupport extends CustomVariableSupport<DataSource, AwxQuery> {
  editor = VariableQueryEditor;

  constructor(private readonly datasource: DataSource) {
    super();
  }

  query(request: DataQueryRequest<AwxQuery>): Observable<DataQueryResponse> {
    const targets = request.targets.map((t) => ({
      ...t,
      queryType: 'lookup' as const,
      lookup: t.lookup ?? 'template',
    }));
    return this.datasource.query({ ...request, targets });
  }
}
