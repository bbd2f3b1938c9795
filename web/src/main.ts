// The page: open the GPU in Lantern's worker, load a model with a progress bar, and chat with it,
// tokens shown as they are generated. The page stays usable while the model loads (all GPU work
// runs in the worker).
import { Lantern, type ChatMessage, type GenerateOptions, type GenerationStream, type TextModel } from 'lantern-ai';
import { fillList, mib, runSelfCheck, showAdapter } from './adapter';
import { builtInModels, defaultModelName, type ModelChoice } from './models';

const $ = <T extends HTMLElement>(selector: string) => document.querySelector<T>(selector)!;
const status = $<HTMLParagraphElement>('#status');
const choice = $<HTMLSelectElement>('#model-choice');
const urlInput = $<HTMLInputElement>('#model-url');
const fileInput = $<HTMLInputElement>('#model-file');
const loadButton = $<HTMLButtonElement>('#load');
const progress = $<HTMLProgressElement>('#load-progress');
const loadStatus = $<HTMLParagraphElement>('#load-status');
const modelInfo = $<HTMLDListElement>('#model-info');
const messagesView = $<HTMLDivElement>('#messages');
const prompt = $<HTMLTextAreaElement>('#prompt');
const sendButton = $<HTMLButtonElement>('#send');
const stopButton = $<HTMLButtonElement>('#stop');
const ttft = $<HTMLSpanElement>('#ttft');
const tps = $<HTMLSpanElement>('#tps');

function setState(element: HTMLElement, state: string, text: string) {
  element.dataset.state = state;
  element.textContent = text;
}

let engine: Lantern | null = null;
let model: TextModel | null = null;
let generation: GenerationStream | null = null;
let loadAbort: AbortController | null = null;
const conversation: ChatMessage[] = [];

// --- model choice --------------------------------------------------------------------------

const CUSTOM_URL = 'url';
const LOCAL_FILE = 'file';
const models = builtInModels();
for (const [i, m] of models.entries()) choice.add(new Option(m.label, String(i)));
choice.add(new Option('A GGUF file from a URL…', CUSTOM_URL));
choice.add(new Option('A GGUF file on this computer…', LOCAL_FILE));
choice.value = String(Math.max(0, models.findIndex((m) => m.label.startsWith(defaultModelName))));
choice.addEventListener('change', () => {
  urlInput.hidden = choice.value !== CUSTOM_URL;
  fileInput.hidden = choice.value !== LOCAL_FILE;
});

function selectedSource(): { source: string | File; chosen?: ModelChoice } | null {
  if (choice.value === CUSTOM_URL) return urlInput.value ? { source: urlInput.value } : null;
  if (choice.value === LOCAL_FILE) return fileInput.files?.[0] ? { source: fileInput.files[0] } : null;
  const chosen = models[Number(choice.value)];
  return { source: chosen.url, chosen };
}

// --- loading -------------------------------------------------------------------------------

function showModelInfo(m: TextModel) {
  const i = m.info;
  fillList(modelInfo, [
    ['model', `${m.name} (${i.architecture}, ${i.layers} layers, vocabulary ${i.vocabSize})`],
    ['context', `${i.contextLength} tokens (trained for ${i.trainedContextLength})`],
    ['GPU memory', `${mib(i.weightBytes)} weights + ${mib(i.kvCacheBytes)} KV cache, ${i.precision} products`],
    ['read per token', `${(i.decodeBytesPerToken / 1e6).toFixed(1)} MB`],
    ['loaded in', `${(i.loadMs / 1000).toFixed(1)} s`],
  ]);
}

async function loadModel() {
  if (!engine) return;
  const selected = selectedSource();
  if (!selected) {
    setState(loadStatus, 'error', 'Choose a URL or a file first.');
    return;
  }
  generation?.abort();
  loadAbort?.abort();
  const abort = new AbortController();
  loadAbort = abort;
  const previous = model;
  model = null;
  updateButtons();
  await previous?.unload().catch(() => {});
  modelInfo.replaceChildren();
  progress.value = 0;
  progress.removeAttribute('max');
  setState(loadStatus, 'loading', 'Loading…');
  const started = performance.now();
  try {
    const loaded = await engine.loadText(selected.source, {
      sha256: selected.chosen?.sha256,
      signal: abort.signal,
      onProgress: (p) => {
        if (p.note) {
          loadStatus.title = p.note;
          return;
        }
        const total = p.totalBytes ?? selected.chosen?.bytes;
        if (total) {
          progress.max = total;
          progress.value = p.uploadedBytes ?? 0;
        }
        const verb = p.fromCache ? 'from the browser cache' : 'downloaded';
        setState(loadStatus, 'loading', `Loading: ${mib(p.receivedBytes ?? 0)}${total ? ` of ${mib(total)}` : ''} ${verb}, ${mib(p.uploadedBytes ?? 0)} on the GPU…`);
      },
    });
    if (loadAbort !== abort) {
      await loaded.unload();
      return;
    }
    model = loaded;
    progress.value = progress.max;
    setState(loadStatus, 'ready', `Ready: ${loaded.name}, loaded in ${((performance.now() - started) / 1000).toFixed(1)} s.`);
    showModelInfo(loaded);
  } catch (e) {
    if (loadAbort === abort) setState(loadStatus, 'error', `Could not load the model: ${(e as Error).message}`);
  } finally {
    if (loadAbort === abort) loadAbort = null;
    updateButtons();
  }
}

// --- chat ----------------------------------------------------------------------------------

function updateButtons() {
  sendButton.disabled = !model || generation !== null;
  stopButton.disabled = generation === null;
}

function addMessage(role: string, text: string): HTMLDivElement {
  const div = document.createElement('div');
  div.className = `message ${role}`;
  div.textContent = text;
  messagesView.append(div);
  div.scrollIntoView({ block: 'end' });
  return div;
}

const numberSetting = (id: string) => Number($<HTMLInputElement>(`#${id}`).value);

function sampling(): GenerateOptions {
  return {
    temperature: numberSetting('temperature'),
    topK: numberSetting('top-k'),
    topP: numberSetting('top-p'),
    minP: numberSetting('min-p'),
    repetitionPenalty: numberSetting('repetition-penalty'),
    maxTokens: numberSetting('max-tokens'),
    seed: numberSetting('seed'),
  };
}

async function send() {
  const text = prompt.value.trim();
  if (!model || generation || !text) return;
  prompt.value = '';
  const system = $<HTMLInputElement>('#system').value.trim();
  conversation.push({ role: 'user', content: text });
  addMessage('user', text);
  const reply = addMessage('assistant', '');
  reply.dataset.state = 'streaming';
  reply.dataset.chunks = '0';
  const messages: ChatMessage[] = system ? [{ role: 'system', content: system }, ...conversation] : [...conversation];
  const started = performance.now();
  let first = 0;
  let tokens = 0;
  ttft.textContent = '…';
  tps.textContent = '…';
  generation = model.chatStream(messages, sampling());
  updateButtons();
  try {
    for await (const chunk of generation) {
      if (chunk.token !== null) {
        tokens += 1;
        if (tokens === 1) {
          first = performance.now();
          ttft.textContent = `${Math.round(first - started)} ms`;
        } else {
          tps.textContent = ((tokens - 1) / ((performance.now() - first) / 1000)).toFixed(1);
        }
      }
      reply.textContent += chunk.text;
      reply.dataset.chunks = String(Number(reply.dataset.chunks) + 1);
    }
    const result = await generation.result;
    reply.textContent = result.text;
    reply.dataset.finish = result.finishReason;
    if (result.generatedTokens > 1) tps.textContent = result.decodeTokensPerSecond.toFixed(1);
    ttft.textContent = `${Math.round(result.prefillMs)} ms`;
    conversation.push({ role: 'assistant', content: result.text.trim() });
  } catch (e) {
    reply.classList.add('error');
    reply.textContent = `Generation failed: ${(e as Error).message}`;
    reply.dataset.finish = 'error';
    conversation.pop();
  } finally {
    reply.dataset.state = 'done';
    generation = null;
    updateButtons();
  }
}

$<HTMLFormElement>('#chat-form').addEventListener('submit', (e) => {
  e.preventDefault();
  send();
});
prompt.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey) {
    e.preventDefault();
    send();
  }
});
stopButton.addEventListener('click', () => generation?.abort());
$<HTMLButtonElement>('#clear').addEventListener('click', () => {
  generation?.abort();
  conversation.length = 0;
  messagesView.replaceChildren();
});
$<HTMLFormElement>('#model-form').addEventListener('submit', (e) => {
  e.preventDefault();
  loadModel();
});

// --- start ---------------------------------------------------------------------------------

async function main() {
  try {
    engine = await Lantern.create();
  } catch (e) {
    setState(status, 'error', (e as Error).message);
    $<HTMLTableElement>('#selfcheck').dataset.state = 'skipped';
    loadButton.disabled = true;
    return;
  }
  const e = engine;
  showAdapter($<HTMLDListElement>('#adapter'), e.adapter, e.browserAdapter);
  setState(status, 'ready', `WebGPU ready on ${e.adapter.name || e.browserAdapter || 'this GPU'}.`);
  const selfCheckButton = $<HTMLButtonElement>('#run-selfcheck');
  selfCheckButton.disabled = false;
  selfCheckButton.addEventListener('click', () => runSelfCheck(e, $<HTMLTableElement>('#selfcheck'), selfCheckButton));
  // The default model loads at once; the page is usable meanwhile.
  if (new URLSearchParams(location.search).get('autoload') !== '0') loadModel();
}

main();
