// Types of www/admin/dom.js that JSDoc cannot say: a @typedef may not refer to itself.

/** What `h` appends: nodes and text, in arrays nested as deep as need be; null, undefined and false are left out. */
export type Child = Node | string | null | undefined | false | readonly Child[];
