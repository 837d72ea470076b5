// A titled panel and a big-number figure, the dashboard's building blocks.
import type { ComponentChildren } from 'preact';

export function Card(props: { title: string; id?: string; wide?: boolean; children: ComponentChildren }) {
  return (
    <section class={props.wide ? 'card wide' : 'card'} id={props.id}>
      <h3>{props.title}</h3>
      {props.children}
    </section>
  );
}

export function Figure(props: { label: string; value: number | string; tone?: 'good' | 'bad' | ''; id?: string }) {
  return (
    <div class={`figure ${props.tone ?? ''}`} id={props.id} data-figure={props.label}>
      <b>{String(props.value)}</b>
      <span>{props.label}</span>
    </div>
  );
}
