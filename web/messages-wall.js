// Message catalogue of the wall page's own strings, merged into i18n.js's `messages`.
// Keep zh and en key for key; tests/unit check that both languages have the same keys.
export default {
  zh: {
  },
  en: {
  },
};
