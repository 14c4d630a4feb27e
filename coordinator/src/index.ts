// @gogrid/coordinator: the control server (Elysia). Not written yet — see README "Status".
export {};
