package web

// ChildQuery is the child page's document, for the benchmark to run over
// /graphql as the baseline of the page.
const ChildQuery = childQuery
