/** `berth version`: client block, then the daemon's /version, via docker's template. */
import type { CommandSpec } from '../argv.js';
import type { CommandContext } from '../context.js';
import { StatusError } from '../errors.js';
import { JSON_FORMAT, JSON_KEY } from '../format.js';
import { asRecord, isRecord } from '../narrow.js';
import { tabwrite } from '../tabwriter.js';
import { Template, TemplateError } from '../template.js';
import { MAX_API_VERSION } from '../../client/engine.js';
import { INSPECT_FORMAT_HELP } from './common.js';

export const spec: CommandSpec = {
  use: 'version [OPTIONS]',
  short: 'Show the Docker version information',
  args: { max: 0 },
  flags: [{ name: 'format', short: 'f', type: 'string', usage: INSPECT_FORMAT_HELP }],
};

export const VERSION = '0.1.0';

const DEFAULT_TEMPLATE = `{{with .Client -}}
Client:{{if ne .Platform nil}}{{if ne .Platform.Name ""}} {{.Platform.Name}}{{end}}{{end}}
 Version:\t{{.Version}}
 API version:\t{{.APIVersion}}{{if ne .APIVersion .DefaultAPIVersion}} (downgraded from {{.DefaultAPIVersion}}){{end}}
 Go version:\t{{.GoVersion}}
 Git commit:\t{{.GitCommit}}
 Built:\t{{.BuildTime}}
 OS/Arch:\t{{.Os}}/{{.Arch}}
 Context:\t{{.Context}}
{{- end}}

{{- if ne .Server nil}}{{with .Server}}

Server:{{if ne .Platform.Name ""}} {{.Platform.Name}}{{end}}
 {{- range $component := .Components}}
 {{$component.Name}}:
  {{- if eq $component.Name "Engine" }}
  Version:\t{{.Version}}
  API version:\t{{index .Details "ApiVersion"}} (minimum version {{index .Details "MinAPIVersion"}})
  Go version:\t{{index .Details "GoVersion"}}
  Git commit:\t{{index .Details "GitCommit"}}
  Built:\t{{index .Details "BuildTime"}}
  OS/Arch:\t{{index .Details "Os"}}/{{index .Details "Arch"}}
  Experimental:\t{{index .Details "Experimental"}}
  {{- else }}
  Version:\t{{$component.Version}}
  {{- $detailsOrder := getDetailsOrder $component}}
  {{- range $key := $detailsOrder}}
  {{$key}}:\t{{index $component.Details $key}}
   {{- end}}
  {{- end}}
 {{- end}}
 {{- end}}{{- end}}`;

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** reformatDate: RFC 3339 → time.ANSIC in the timestamp's own offset. */
export function reformatDate(s: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(Z|[+-]\d{2}:\d{2})$/.exec(s);
  if (m === null) return s;
  const [y, mo, d, h, mi, se] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, se));
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${DAYS[date.getUTCDay()] ?? ''} ${MONTHS[mo - 1] ?? ''} ${String(d).padStart(2, ' ')} ${p(h)}:${p(mi)}:${p(se)} ${y}`;
}

function goArch(): string {
  const map: Record<string, string> = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm' };
  return map[process.arch] ?? process.arch;
}

export async function run(ctx: CommandContext): Promise<number> {
  let format = ctx.opts.string('format');
  if (format === '') format = DEFAULT_TEMPLATE;
  else if (format === JSON_KEY) format = JSON_FORMAT;
  let tmpl: Template;
  try {
    tmpl = Template.parse(format, {
      getDetailsOrder: (c) => Object.keys(asRecord(asRecord(c)['Details'])).sort(),
    });
  } catch (e) {
    if (e instanceof TemplateError) throw new StatusError(`template parsing error: ${e.message}`, 64);
    throw e;
  }
  const client = await ctx.client();
  let apiVersion = '';
  let server: Record<string, unknown> | null = null;
  let failure: unknown;
  try {
    apiVersion = await client.apiVersion();
    const v = await client.get('/version');
    if (isRecord(v)) {
      server = v;
      const comps = Array.isArray(v['Components']) ? v['Components'] : [];
      const engine = comps.find((c) => isRecord(c) && c['Name'] === 'Engine');
      if (isRecord(engine)) {
        const det = asRecord(engine['Details']);
        if (typeof det['BuildTime'] === 'string') det['BuildTime'] = reformatDate(det['BuildTime']);
        engine['Details'] = det;
      } else {
        const str = (k: string): string => (typeof v[k] === 'string' ? (v[k] as string) : '');
        comps.push({
          Name: 'Engine', Version: str('Version'),
          Details: {
            ApiVersion: str('ApiVersion'), MinAPIVersion: str('MinAPIVersion'), GitCommit: str('GitCommit'), GoVersion: str('GoVersion'),
            Os: str('Os'), Arch: str('Arch'), BuildTime: reformatDate(str('BuildTime')), Experimental: String(v['Experimental'] === true),
          },
        });
        v['Components'] = comps;
      }
      if (!isRecord(v['Platform'])) v['Platform'] = { Name: '' };
    }
  } catch (e) {
    failure = e;
  }
  const clientInfo: Record<string, unknown> = {
      Version: VERSION,
      ApiVersion: apiVersion === '' ? MAX_API_VERSION : apiVersion,
      DefaultAPIVersion: MAX_API_VERSION,
      GitCommit: '',
      GoVersion: process.version,
      Os: process.platform,
      Arch: goArch(),
      BuildTime: '',
      Context: 'default',
  };
  // Templates say .APIVersion, JSON says ApiVersion (Go's struct tag): keep it out of JSON.
  Object.defineProperty(clientInfo, 'APIVersion', { value: clientInfo['ApiVersion'], enumerable: false });
  const data = { Client: clientInfo, Server: server };
  let text: string;
  try {
    text = tmpl.execute(data);
  } catch (e) {
    if (e instanceof TemplateError) throw new StatusError(`template: version:1:2: ${e.message}`, 1);
    throw e;
  }
  ctx.out.write(tabwrite(`${text}\n`, 20, 1));
  if (failure !== undefined) throw failure;
  return 0;
}
