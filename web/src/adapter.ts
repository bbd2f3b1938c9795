// The GPU section: the adapter and its limits, and the kernel self-check on demand.
import type { AdapterInfo, Lantern, SelfCheckReport } from 'lantern-ai';

const mib = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MiB`;

function fillList(list: HTMLDListElement, rows: [string, string][]) {
  list.replaceChildren(
    ...rows.flatMap(([k, v]) => {
      const dt = document.createElement('dt');
      dt.textContent = k;
      const dd = document.createElement('dd');
      dd.textContent = v;
      return [dt, dd];
    }),
  );
}

export function showAdapter(list: HTMLDListElement, info: AdapterInfo, browserName: string) {
  const { features: f, limits: l } = info;
  fillList(list, [
    ['adapter', `${info.name || browserName || '(unnamed)'} — ${info.backend}, ${info.device_type}`],
    ['driver', `${info.driver} ${info.driver_info}`.trim() || '—'],
    ['shader-f16', f.shader_f16 ? 'yes' : 'no'],
    ['subgroups', f.subgroups ? `yes (${l.min_subgroup_size}–${l.max_subgroup_size})` : 'no'],
    ['timestamp queries', f.timestamp_query ? 'yes' : 'no'],
    ['largest buffer', mib(l.max_buffer_size)],
    ['largest storage binding', mib(l.max_storage_buffer_binding_size)],
    ['workgroup', `${l.max_compute_invocations_per_workgroup} invocations, ${l.max_compute_workgroup_storage_size / 1024} KiB shared`],
  ]);
}

export { fillList, mib };

function showSelfCheck(table: HTMLTableElement, report: SelfCheckReport) {
  table.tBodies[0].replaceChildren(
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

export async function runSelfCheck(engine: Lantern, table: HTMLTableElement, button: HTMLButtonElement) {
  button.disabled = true;
  table.dataset.state = 'running';
  try {
    showSelfCheck(table, await engine.selfCheck());
  } catch (e) {
    table.dataset.state = 'failed';
    table.tBodies[0].textContent = `Self-check could not run: ${(e as Error).message}`;
  } finally {
    button.disabled = false;
  }
}
