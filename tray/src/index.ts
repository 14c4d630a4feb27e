// @gogrid/tray: the systray2 icon. Not written yet — see README "Status".
export {};
