// The rules Intune's "Import ADMX" applies beyond Microsoft's schema: a namespace declared with
// `using` must be one it has loaded and must be used (an unused one is refused as NamespaceMissing,
// as PowerToys issue 21702 found), and every category and supportedOn a policy names must be
// defined in the file (or in a declared, used namespace). The ADML must hold every string and
// presentation the ADMX names. The committed files are read with a real XML parser (Python's).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';

const DIR = join(import.meta.dirname, '..', '..', 'native-config', 'windows');

interface XmlElement { tag: string; attrs: Record<string, string>; text: string }

/** Every element of the file, in document order, with the namespace stripped from its tag. */
function elements(path: string): XmlElement[] {
  const script = 'import json,sys,xml.etree.ElementTree as E\n'
    + 'print(json.dumps([{"tag": e.tag.split("}")[-1], "attrs": e.attrib, "text": e.text or ""} for e in E.parse(sys.argv[1]).iter()]))';
  return JSON.parse(execFileSync('python3', ['-c', script, path], { encoding: 'utf8' })) as XmlElement[];
}

const admx = elements(join(DIR, 'DeviceTrust.admx'));
const adml = elements(join(DIR, 'en-US', 'DeviceTrust.adml'));
const named = (list: XmlElement[], tag: string, attr: string): string[] => list.filter((e) => e.tag === tag).map((e) => e.attrs[attr] ?? '');

/** A reference "prefix:name" or "name" (our own target namespace). */
function splitRef(ref: string): { prefix: string | null; name: string } {
  const at = ref.indexOf(':');
  return at < 0 ? { prefix: null, name: ref } : { prefix: ref.slice(0, at), name: ref.slice(at + 1) };
}

const target = named(admx, 'target', 'prefix');
const using = named(admx, 'using', 'prefix');
const refs = admx.filter((e) => e.attrs.ref !== undefined).map((e) => ({ tag: e.tag, ...splitRef(e.attrs.ref ?? '') }));

test('the ADMX has one target namespace and declares no namespace it does not use (Intune: NamespaceMissing)', () => {
  assert.equal(target.length, 1);
  const usedPrefixes = new Set(refs.map((r) => r.prefix).filter((p) => p !== null));
  for (const prefix of using) assert.ok(usedPrefixes.has(prefix), `using prefix "${prefix}" is declared but nothing refers to it`);
  for (const prefix of usedPrefixes) assert.ok(using.includes(prefix) || target.includes(prefix), `prefix "${prefix}" is used but not declared`);
});

test('every category and supportedOn a policy or category names is defined in the file', () => {
  const categories = new Set(named(admx, 'category', 'name'));
  const supported = new Set(named(admx, 'definition', 'name'));
  const local = refs.filter((r) => r.prefix === null || target.includes(r.prefix));
  assert.ok(local.some((r) => r.tag === 'parentCategory') && local.some((r) => r.tag === 'supportedOn'), 'the policies name a category and a supportedOn');
  for (const ref of local) {
    if (ref.tag === 'parentCategory') assert.ok(categories.has(ref.name), `category ${ref.name} is not defined`);
    else if (ref.tag === 'supportedOn') assert.ok(supported.has(ref.name), `supportedOn ${ref.name} is not defined`);
    else assert.fail(`unexpected reference from <${ref.tag}>`);
  }
  assert.deepEqual(refs.filter((r) => r.prefix !== null && !target.includes(r.prefix)), [], 'nothing refers to another namespace');
});

test('every $(string.…) and $(presentation.…) the ADMX names is in the ADML', () => {
  const strings = new Set(named(adml, 'string', 'id'));
  const presentations = new Set(named(adml, 'presentation', 'id'));
  const wanted = admx.flatMap((e) => Object.values(e.attrs)).flatMap((v) => [...v.matchAll(/\$\((string|presentation)\.([^)]+)\)/g)]);
  assert.ok(wanted.length > 0);
  for (const [, kind, id = ''] of wanted) {
    assert.ok((kind === 'string' ? strings : presentations).has(id), `${kind} ${id} is missing from the ADML`);
  }
  for (const presentation of adml.filter((e) => e.tag === 'presentation')) {
    assert.ok(admx.some((e) => e.tag === 'policy' && e.attrs.presentation === `$(presentation.${presentation.attrs.id ?? ''})`), `presentation ${presentation.attrs.id ?? ''} belongs to a policy`);
  }
});

test('each element a presentation control refers to exists in its policy', () => {
  const controls = adml.filter((e) => e.attrs.refId !== undefined).map((e) => e.attrs.refId ?? '');
  const ids = new Set(admx.filter((e) => ['text', 'decimal', 'enum', 'list', 'boolean'].includes(e.tag)).map((e) => e.attrs.id ?? ''));
  assert.ok(controls.length > 0);
  for (const id of controls) assert.ok(ids.has(id), `presentation control refers to ${id}, which no policy element defines`);
});
