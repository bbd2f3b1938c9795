// The models the page offers: every GGUF text model in the repository's manifest, served from
// /models/ next to the page (`make demo` serves the cache folder there), plus any URL or local file.
import manifest from '../../models/manifest.json';

export interface ModelChoice {
  label: string;
  url: string;
  sha256?: string;
  bytes?: number;
}

interface ManifestModel {
  name: string;
  architecture: string;
  format: string;
  files: { name: string; size: number; sha256: string }[];
}

const TEXT_ARCHITECTURES = new Set(['llama', 'gemma3']);

export const defaultModelName: string = manifest.default;

export function builtInModels(): ModelChoice[] {
  return (manifest.models as ManifestModel[])
    .filter((m) => m.format === 'gguf' && TEXT_ARCHITECTURES.has(m.architecture) && m.files.length === 1)
    .map((m) => ({
      label: `${m.name} (${Math.round(m.files[0].size / 1e6)} MB, served by this page)`,
      url: `/models/${m.files[0].name}`,
      sha256: m.files[0].sha256,
      bytes: m.files[0].size,
    }));
}
