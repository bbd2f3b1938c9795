import { createEngine, type AdapterInfo, type SelfCheckReport } from 'lantern-ai';

const status = document.querySelector<HTMLParagraphElement>('#status')!;
const adapterList = document.querySelector<HTMLDListElement>('#adapter')!;
const table = document.querySelector<HTMLTableElement>('#selfcheck')!;

function setStatus(state: string, text: string) {
  status.dataset.state = state;
  status.textContent = text;
}

const mib = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MiB`;

/** Browsers keep the adapter's name out of wgpu's report; GPUAdapterInfo has vendor and architecture. */
async function browserAdapterName(): Promise<string> {
  const adapter = await navigator.gpu?.requestAdapter();
  const info = adapter?.info;
  return info ? [info.vendor, info.architecture, info.description].filter(Boolean).join(' ') : '';
}

function showAdapter(info: AdapterInfo, browserName: string) {
  const { features: f, limits: l } = info;
  const rows: [string, string][] = [
    ['adapter', `${info.name || browserName || '(unnamed)'} — ${info.backend}, ${info.device_type}`],
    ['driver', `${info.driver} ${info.driver_info}`.trim() || '—'],
    ['shader-f16', f.shader_f16 ? 'yes' : 'no'],
    ['subgroups', f.subgroups ? `yes (${l.min_subgroup_size}–${l.max_subgroup_size})` : 'no'],
    ['timestamp queries', f.timestamp_query ? 'yes' : 'no'],
    ['largest buffer', mib(l.max_buffer_size)],
    ['largest storage binding', mib(l.max_storage_buffer_binding_size)],
    ['workgroup', `${l.max_compute_invocations_per_workgroup} invocations, ${l.max_compute_workgroup_storage_size / 1024} KiB shared`],
  ];
  adapterList.replaceChildren(
    ...rows.flatMap(([k, v]) => {
      const dt = document.createElement('dt');
      dt.textContent = k;
      const dd = document.createElement('dd');
      dd.textContent = v;
      return [dt, dd];
    }),
  );
}

function showSelfCheck(report: SelfCheckReport) {
  const body = table.tBodies[0];
  body.replaceChildren(
    ...report.checks.map((c) => {
      const tr = document.createElement('tr');
      const cells = [c.kernel, c.shape, c.max_abs_error.toExponential(2), `${(c.worst_ratio * 100).toFixed(0)}%`, c.passed ? 'ok' : 'FAIL'];
      for (const text of cells) {
        const td = document.createElement('td');
        td.textContent = text;
        tr.append(td);
      }
      tr.className = c.passed ? 'pass' : 'fail';
      return tr;
    }),
  );
  table.dataset.state = report.passed ? 'passed' : 'failed';
}

async function main() {
  let engine;
  try {
    engine = await createEngine();
  } catch (e) {
    setStatus('error', (e as Error).message);
    table.dataset.state = 'skipped';
    return;
  }
  showAdapter(engine.adapterInfo(), await browserAdapterName());
  setStatus('running', 'Running the kernel self-check…');
  try {
    const report = await engine.selfCheck();
    showSelfCheck(report);
    setStatus(report.passed ? 'ready' : 'error', report.passed ? 'WebGPU ready: every kernel matches its CPU reference.' : 'Self-check FAILED on this GPU.');
  } catch (e) {
    setStatus('error', `Self-check could not run: ${(e as Error).message}`);
    table.dataset.state = 'failed';
  }
}

main();
