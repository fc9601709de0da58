// Types for templates.generated.js (handlebars' precompiled templates, by path under generator/).
export declare const precompiled: Readonly<Record<string, { readonly sha256: string; readonly spec: TemplateSpecification }>>;
