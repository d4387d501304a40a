import { useCallback, useEffect, useId, useMemo, useState } from 'react';
import { getTemplateSrv } from '@grafana/runtime';
import { Combobox, ComboboxOption, IconButton, InlineField, MultiCombobox, Stack } from '@grafana/ui';

import type { DataSource } from '../datasource';
import { FILTER_LABELS } from '../queryTypes';
import { FilterKey, Filters, LookupKind } from '../types';
import { variableOptions } from '../variables';

/** Filters whose values the backend can list; the others take free text. */
const FILTER_LOOKUP: Partial<Record<FilterKey, LookupKind>> = {
  organization: 'organization',
  template: 'template',
  inventory: 'inventory',
  project: 'project',
  status: 'status',
  jobType: 'jobType',
  launchType: 'launchType',
  instanceGroup: 'instanceGroup',
  executionNode: 'executionNode',
};

const FILTER_HELP: Record<FilterKey, string> = {
  organization: 'Jobs of these organizations (names or ids).',
  template: 'Jobs of these templates: job, workflow, project or inventory source.',
  inventory: 'Jobs that ran against these inventories.',
  project: 'Jobs of these projects.',
  status: 'Jobs in these statuses.',
  jobType: 'Kinds of job: playbook runs, workflows, project updates, inventory updates, ...',
  launchType: 'How the jobs were launched (manual, scheduled, workflow, ...).',
  instanceGroup: 'Jobs that ran in these instance groups (or the instances of these groups).',
  executionNode: 'Jobs that ran on these nodes (or these instances).',
  launchedBy: 'Jobs launched by these users (type a name and press Enter).',
  name: 'Jobs whose name contains this text (type it and press Enter).',
  host: 'Only these hosts, by name or AWX id (type it and press Enter).',
};

export const LABEL_WIDTH = 18;

interface FilterFieldProps {
  datasource: DataSource;
  filterKey: FilterKey;
  values: string[];
  onChange: (values: string[]) => void;
  onRemove: () => void;
}

/** One filter: a multi-value picker fed by the backend's look-ups, plus the dashboard's variables. */
export function FilterField({ datasource, filterKey, values, onChange, onRemove }: FilterFieldProps) {
  const kind = FILTER_LOOKUP[filterKey];
  // What each value is called, as learnt from the look-ups: ids show as names.
  const [labels, setLabels] = useState<ReadonlyMap<string, string>>(new Map());
  const learn = useCallback((items: Array<{ text: string; value: string }>) => {
    setLabels((before) => {
      if (items.every((i) => before.get(i.value) === i.text)) {
        return before;
      }
      const next = new Map(before);
      items.forEach((i) => next.set(i.value, i.text));
      return next;
    });
  }, []);

  // Values already chosen: fetch their names once (the answer is cached by the data source).
  const hasValues = values.length > 0;
  useEffect(() => {
    if (!kind || !hasValues) {
      return;
    }
    let live = true;
    datasource
      .lookup(kind)
      .then((items) => live && learn(items))
      .catch(() => {});
    return () => {
      live = false;
    };
  }, [datasource, kind, hasValues, learn]);

  const loadOptions = useCallback(
    async (input: string): Promise<Array<ComboboxOption<string>>> => {
      const vars = variableOptions(getTemplateSrv()).filter((v) => !input || v.value.includes(input));
      if (!kind) {
        return vars;
      }
      let items: Array<ComboboxOption<string>> = [];
      try {
        const found = await datasource.lookup(kind, input || undefined);
        learn(found);
        items = found.map((i) => {
          return {
            label: i.text,
            value: i.value,
            description: i.text !== i.value ? i.value : undefined,
          };
        });
      } catch {
        // The picker still offers variables and free text; the query itself will report what is wrong.
      }
      return [...items, ...vars];
    },
    [datasource, kind, learn]
  );

  const value = useMemo(() => values.map((v) => ({ value: v, label: labels.get(v) ?? v })), [values, labels]);
  const id = `${useId()}-filter-${filterKey}`;

  return (
    <InlineField label={FILTER_LABELS[filterKey]} labelWidth={LABEL_WIDTH} tooltip={FILTER_HELP[filterKey]} htmlFor={id}>
      <Stack direction="row" gap={0.5} alignItems="center">
        <MultiCombobox<string>
          id={id}
          width="auto"
          minWidth={40}
          maxWidth={100}
          value={value}
          options={loadOptions}
          createCustomValue
          placeholder={kind ? 'All' : 'Type and press Enter'}
          onChange={(selected) => onChange(selected.map((o) => o.value))}
        />
        <IconButton name="times" tooltip={`Remove the ${FILTER_LABELS[filterKey]} filter`} onClick={onRemove} />
      </Stack>
    </InlineField>
  );
}

interface FiltersEditorProps {
  datasource: DataSource;
  /** the filters this query type understands, in display order */
  allowed: FilterKey[];
  filters: Filters | undefined;
  /** `run` is false when the change cannot change the result (an empty filter added or removed) */
  onChange: (filters: Filters, run: boolean) => void;
}

/** The filters in use, each a row, and a picker to add another one. */
export function FiltersEditor({ datasource, allowed, filters, onChange }: FiltersEditorProps) {
  const addId = `${useId()}-add-filter`;
  const current = filters ?? {};
  const shown = allowed.filter((k) => current[k] !== undefined);
  const addable = allowed.filter((k) => current[k] === undefined);

  const update = (key: FilterKey, values: string[] | undefined) => {
    const next: Filters = { ...current };
    const before = current[key] ?? [];
    if (values === undefined) {
      delete next[key];
    } else {
      next[key] = values;
    }
    const changedResult = (values ?? []).join('\u0000') !== before.join('\u0000');
    onChange(next, changedResult);
  };

  if (allowed.length === 0) {
    return null;
  }

  return (
    <Stack direction="column" gap={0}>
      {shown.map((key) => (
        <FilterField
          key={key}
          datasource={datasource}
          filterKey={key}
          values={current[key] ?? []}
          onChange={(values) => update(key, values)}
          onRemove={() => update(key, undefined)}
        />
      ))}
      {addable.length > 0 && (
        <InlineField
          label="Add filter"
          labelWidth={LABEL_WIDTH}
          tooltip="Narrow the jobs counted. Without a filter, all jobs count."
          htmlFor={addId}
        >
          <Combobox<string>
            id={addId}
            width={24}
            value={null}
            placeholder="Choose a filter"
            options={addable.map((k) => ({ label: FILTER_LABELS[k], value: k, description: FILTER_HELP[k] }))}
            onChange={(o) => update(o.value as FilterKey, [])}
          />
        </InlineField>
      )}
    </Stack>
  );
}
