// Questions told apart at a glance: a short label that keeps the words that
// differ, the full text beside it, and a search over both.

// The survey's questions differ only far into their text (three start with the
// same 110 characters), so they get labels written for them, short enough for
// the closed list and with the telling words first ("150+" against "300+":
// moderate minutes, or the same in vigorous ones at half).
const SURVEY_LABELS = {
  "Percent of adults aged 18 years and older who have an overweight classification": "Overweight",
  "Percent of adults aged 18 years and older who have obesity": "Obesity",
  "Percent of adults who achieve at least 150 minutes a week of moderate-intensity aerobic physical activity or 75 minutes a week of vigorous-intensity aerobic activity (or an equivalent combination)":
    "Aerobic 150+ min a week",
  "Percent of adults who achieve at least 150 minutes a week of moderate-intensity aerobic physical activity or 75 minutes a week of vigorous-intensity aerobic physical activity and engage in muscle-strengthening activities on 2 or more days a week":
    "Aerobic 150+ min and muscle 2+ days",
  "Percent of adults who achieve at least 300 minutes a week of moderate-intensity aerobic physical activity or 150 minutes a week of vigorous-intensity aerobic activity (or an equivalent combination)":
    "Aerobic 300+ min a week",
  "Percent of adults who engage in muscle-strengthening activities on 2 or more days a week":
    "Muscle-strengthening 2+ days a week",
  "Percent of adults who engage in no leisure-time physical activity": "No leisure-time physical activity",
  "Percent of adults who report consuming fruit less than one time daily": "Fruit less than once a day",
  "Percent of adults who report consuming vegetables less than one time daily": "Vegetables less than once a day",
};

const LONGEST = 72;

function words(text) {
  return text.split(/\s+/).filter(Boolean);
}

// The words every question starts with ("Percent of adults who"), when there is
// more than one question and something is left of each after them.
function sharedStart(questions) {
  if (questions.length < 2) return 0;
  const split = questions.map(words);
  let count = 0;
  while (split.every((parts) => parts.length > count + 1 && parts[count] === split[0][count])) count += 1;
  return count;
}

function capital(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

// Labels for any set of questions: the survey's own, else each question
// without the words all of them start with, cut to LONGEST characters only
// where the cut one still differs from every other label.
export function shortLabels(questions) {
  const skip = sharedStart(questions);
  const labels = questions.map((question) => SURVEY_LABELS[question]
    ?? capital(words(question).slice(skip).join(" ")));
  const cut = labels.map((label) => (label.length > LONGEST ? `${label.slice(0, LONGEST - 1).trimEnd()}…` : label));
  return new Map(questions.map((question, index) => {
    const unique = cut.filter((label) => label === cut[index]).length === 1;
    return [question, unique ? cut[index] : labels[index]];
  }));
}

// Whether a question matches what was typed in the search: every word of it,
// in the label or the full text, whatever the case.
export function matches(query, question, label) {
  const haystack = `${label} ${question}`.toLowerCase();
  return words(query.toLowerCase()).every((word) => haystack.includes(word));
}
