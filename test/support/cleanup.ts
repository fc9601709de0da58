import { afterAll } from "vitest";
import { removeTempRepos } from "./render.ts";

afterAll(removeTempRepos);
