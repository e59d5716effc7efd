/**
 * Asking the agent's questions (`input/request`), kept free of `vscode` so it is unit-tested with a
 * stubbed UI: each question is one quick pick over its options (many at once when `multiSelect`),
 * "Other…" (when free text is allowed) goes on to an input box, a question without options is an
 * input box straight away, and secret questions use a password box. Dismissing any prompt cancels
 * the whole request (`undefined`).
 */
import type { InputQuestion, InputRequestParams } from "./protocol";

/** A quick-pick entry. */
export interface PickItem {
  label: string;
  description?: string;
  other?: boolean;
}

/** The two prompts the questions need; the extension passes VS Code's, tests pass stubs. */
export interface InputUi {
  pick(
    items: PickItem[],
    options: { title: string; placeHolder: string; canPickMany: boolean },
  ): Promise<PickItem | PickItem[] | undefined>;
  text(options: { title: string; prompt: string; password: boolean }): Promise<string | undefined>;
}

export const OTHER = "Other…";

function title(q: InputQuestion, index: number, count: number): string {
  const n = count > 1 ? ` (${index + 1}/${count})` : "";
  return `baton: ${q.header || "the agent asks"}${n}`;
}

/** Asks one question; `undefined` when the user dismissed it. */
export async function askQuestion(
  ui: InputUi,
  q: InputQuestion,
  index = 0,
  count = 1,
): Promise<string[] | undefined> {
  const t = title(q, index, count);
  const options = q.options ?? [];
  const freeText = () => ui.text({ title: t, prompt: q.question, password: !!q.secret });
  if (options.length === 0) {
    const text = await freeText();
    return text === undefined ? undefined : [text];
  }
  const items: PickItem[] = options.map((o) => ({
    label: o.label,
    ...(o.description && o.description !== o.label ? { description: o.description } : {}),
  }));
  if (q.allowOther) items.push({ label: OTHER, description: "type an answer", other: true });
  const picked = await ui.pick(items, { title: t, placeHolder: q.question, canPickMany: !!q.multiSelect });
  if (picked === undefined) return undefined;
  const list = Array.isArray(picked) ? picked : [picked];
  const answers: string[] = [];
  for (const p of list) {
    if (p.other) {
      const text = await freeText();
      if (text === undefined) return undefined;
      answers.push(text);
    } else answers.push(p.label);
  }
  return answers;
}

/** Asks every question of a request; the answers by question id, or `undefined` to cancel. */
export async function askQuestions(
  ui: InputUi,
  request: InputRequestParams,
): Promise<Record<string, string[]> | undefined> {
  const answers: Record<string, string[]> = {};
  const qs = request.questions ?? [];
  for (const [i, q] of qs.entries()) {
    const a = await askQuestion(ui, q, i, qs.length);
    if (a === undefined) return undefined;
    answers[q.id] = a;
  }
  return answers;
}
