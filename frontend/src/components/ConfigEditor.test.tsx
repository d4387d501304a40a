import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { DataSourceSettings } from '@grafana/data';

import { AwxOptions, AwxSecureJsonData } from '../types';
import { ConfigEditor } from './ConfigEditor';

type Options = DataSourceSettings<AwxOptions, AwxSecureJsonData>;

function options(overrides: Partial<Options> = {}): Options {
  return {
    id: 1,
    uid: 'awx',
    orgId: 1,
    name: 'AWX',
    type: 'seed-awx-datasource',
    typeName: 'AWX',
    typeLogoUrl: '',
    access: 'proxy',
    url: 'https://awx.example.com',
    user: '',
    database: '',
    basicAuth: false,
    basicAuthUser: '',
    isDefault: false,
    withCredentials: false,
    readOnly: false,
    jsonData: {},
    secureJsonFields: {},
    ...overrides,
  };
}

/** A text field by its label (the radio buttons share some words with them). */
function field(label: RegExp) {
  return screen.getByLabelText(label, { selector: 'input:not([type="radio"]), textarea' });
}
function queryField(label: RegExp) {
  return screen.queryByLabelText(label, { selector: 'input:not([type="radio"]), textarea' });
}

function setup(opts: Options) {
  const onOptionsChange = jest.fn();
  const utils = render(<ConfigEditor options={opts} onOptionsChange={onOptionsChange} />);
  return { ...utils, onOptionsChange };
}

describe('ConfigEditor', () => {
  it('edits the URL', async () => {
    const { onOptionsChange } = setup(options({ url: '' }));
    await userEvent.type(field(/^URL/), 'h');
    expect(onOptionsChange).toHaveBeenLastCalledWith(expect.objectContaining({ url: 'h' }));
  });

  it('shows a configured token as "configured", never its value, and resets it', async () => {
    const opts = options({
      secureJsonFields: { token: true },
      secureJsonData: { token: 'this-must-not-show' },
    });
    const { onOptionsChange, container } = setup(opts);
    const token = field(/^Token/);
    expect(token).toHaveValue('configured');
    expect(token).toBeDisabled();
    expect(container.innerHTML).not.toContain('this-must-not-show');

    await userEvent.click(screen.getByRole('button', { name: 'Reset' }));
    const next: Options = onOptionsChange.mock.lastCall[0];
    expect(next.secureJsonFields.token).toBe(false);
    expect(next.secureJsonData?.token).toBe('');
  });

  it('writes a new token to secureJsonData only', async () => {
    const { onOptionsChange } = setup(options());
    await userEvent.type(field(/^Token/), 's');
    const next: Options = onOptionsChange.mock.lastCall[0];
    expect(next.secureJsonData).toEqual({ token: 's' });
    expect(next.jsonData).toEqual({});
  });

  it('switches to basic auth: user and password', async () => {
    const { onOptionsChange, rerender } = setup(options());
    await userEvent.click(screen.getAllByRole('radio', { name: 'Basic' })[0]);
    expect(onOptionsChange).toHaveBeenLastCalledWith(
      expect.objectContaining({ jsonData: { authType: 'basic' } })
    );
    rerender(
      <ConfigEditor
        options={options({ jsonData: { authType: 'basic' }, secureJsonFields: { password: true } })}
        onOptionsChange={onOptionsChange}
      />
    );
    expect(queryField(/^Token/)).not.toBeInTheDocument();
    expect(field(/^User/)).toBeInTheDocument();
    expect(field(/^Password/)).toHaveValue('configured');
  });

  it('warns when TLS verification is skipped', async () => {
    const { onOptionsChange, rerender } = setup(options());
    expect(screen.queryByText('TLS verification is off')).not.toBeInTheDocument();
    await userEvent.click(screen.getByLabelText(/Skip TLS certificate verification/));
    expect(onOptionsChange).toHaveBeenLastCalledWith(
      expect.objectContaining({ jsonData: { tlsSkipVerify: true } })
    );
    rerender(<ConfigEditor options={options({ jsonData: { tlsSkipVerify: true } })} onOptionsChange={onOptionsChange} />);
    expect(screen.getByText('TLS verification is off')).toBeInTheDocument();
  });

  it('keeps a configured CA certificate hidden, with a reset', async () => {
    const { onOptionsChange } = setup(options({ secureJsonFields: { tlsCaCert: true, token: true } }));
    const ca = field(/^CA certificate/);
    expect(ca).not.toHaveValue(expect.stringContaining('BEGIN'));
    const resets = screen.getAllByRole('button', { name: 'Reset' });
    expect(resets).toHaveLength(2);
    await userEvent.click(resets[1]);
    const next: Options = onOptionsChange.mock.lastCall[0];
    expect(next.secureJsonFields).toEqual({ tlsCaCert: false, token: true });
    expect(next.secureJsonData).toEqual({ tlsCaCert: '' });
  });

  it('stores numbers as numbers', async () => {
    const { onOptionsChange } = setup(options());
    await userEvent.type(field(/^Timeout/), '9');
    expect(onOptionsChange).toHaveBeenLastCalledWith(expect.objectContaining({ jsonData: { timeoutSeconds: 9 } }));
  });

  it('shows the Prometheus settings once a Prometheus URL is set', () => {
    const { rerender, onOptionsChange } = setup(options());
    expect(queryField(/^Selector/)).not.toBeInTheDocument();
    rerender(
      <ConfigEditor
        options={options({
          jsonData: { prometheusUrl: 'http://prom:9090', prometheusAuthType: 'bearer' },
          secureJsonFields: { prometheusToken: true },
        })}
        onOptionsChange={onOptionsChange}
      />
    );
    expect(field(/^Selector/)).toBeInTheDocument();
    expect(field(/^Prometheus token/)).toHaveValue('configured');
  });

  it('offers both API paths and takes a custom one', async () => {
    const { onOptionsChange } = setup(options());
    const apiPath = screen.getByRole('combobox', { name: /^API path/ });
    expect(apiPath).toHaveValue('/api/v2/');
    await userEvent.click(apiPath);
    await userEvent.click(await screen.findByRole('option', { name: /\/api\/controller\/v2\// }));
    expect(onOptionsChange).toHaveBeenLastCalledWith(
      expect.objectContaining({ jsonData: { apiPath: '/api/controller/v2/' } })
    );
  });

  it('chooses the default source', async () => {
    const { onOptionsChange } = setup(options());
    await userEvent.click(screen.getByRole('radio', { name: 'Prometheus' }));
    expect(onOptionsChange).toHaveBeenLastCalledWith(expect.objectContaining({ jsonData: { defaultSource: 'prometheus' } }));
  });
});
