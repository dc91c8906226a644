import i18n from "i18next";
import { initReactI18next } from "react-i18next";
import { en } from "./en";
import { fr } from "./fr";

export const LANGUAGES = ["en", "fr"] as const;
export type Language = (typeof LANGUAGES)[number];

const STORAGE_KEY = "scis.lang";

function storageKey(username?: string): string {
  return username ? `${STORAGE_KEY}.${username}` : STORAGE_KEY;
}

function isLanguage(value: string | null): value is Language {
  return value !== null && (LANGUAGES as readonly string[]).includes(value);
}

/** The language last chosen by this user on this browser, else by anyone here, else the browser's own. */
export function preferredLanguage(username?: string): Language {
  const stored = localStorage.getItem(storageKey(username)) ?? localStorage.getItem(STORAGE_KEY);
  if (isLanguage(stored)) return stored;
  return navigator.language.toLowerCase().startsWith("fr") ? "fr" : "en";
}

export async function setLanguage(language: Language, username?: string): Promise<void> {
  localStorage.setItem(STORAGE_KEY, language);
  if (username) localStorage.setItem(storageKey(username), language);
  document.documentElement.lang = language;
  await i18n.changeLanguage(language);
}

const initial = preferredLanguage();
document.documentElement.lang = initial;

void i18n.use(initReactI18next).init({
  resources: { en: { translation: en }, fr: { translation: fr } },
  lng: initial,
  fallbackLng: false,
  interpolation: { escapeValue: false },
  returnNull: false,
});

export default i18n;
