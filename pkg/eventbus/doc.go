// Package eventbus puts Keyward's events on an EventBridge bus: one entry per call,
// under one source (Bus.Source, "keyward"), with the event's type as detail-type and
// its JSON as detail, so that teams can route and alert on them with rules.
//
// Invariants:
//   - Put returns nil only when EventBridge accepted the entry: a call error and an
//     entry the bus refused (FailedEntryCount) are both errors.
//   - A Bus never creates a bus in AWS: Ensure (or CreateFirst, which ensures once,
//     before the first Put) is for the local stack only, which starts without one.
package eventbus
