import { useEffect, useState, type FormEvent } from 'react';
import { NavLink, Navigate, Route, Routes, useNavigate } from 'react-router-dom';
import ComparePage from './pages/ComparePage';
import DependenciesPage from './pages/DependenciesPage';
import MonitorPage from './pages/MonitorPage';
import SearchPage from './pages/SearchPage';
import TraceRoute from './pages/TraceRoute';

function useTheme(): [string, () => void] {
  const [theme, setTheme] = useState(() => document.documentElement.dataset.theme ?? 'light');
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
    try {
      localStorage.setItem('sextant.theme', theme);
    } catch {
      // Private mode: the theme just is not remembered.
    }
  }, [theme]);
  return [theme, () => setTheme((t) => (t === 'dark' ? 'light' : 'dark'))];
}

function TraceIdLookup() {
  const navigate = useNavigate();
  const [id, setId] = useState('');
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const v = id.trim();
    if (v) navigate(`/trace/${encodeURIComponent(v)}`);
  };
  return (
    <form onSubmit={submit} className="lookup">
      <input
        aria-label="Lookup by trace ID"
        placeholder="Lookup by Trace ID…"
        value={id}
        onChange={(e) => setId(e.target.value)}
      />
    </form>
  );
}

export default function App() {
  const [theme, toggleTheme] = useTheme();
  return (
    <div className="app">
      <header className="topbar">
        <NavLink to="/search" className="brand">
          <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true">
            <path d="M12 2 L22 20 H2 Z" fill="none" stroke="currentColor" strokeWidth="2" />
            <circle cx="12" cy="14" r="2.5" fill="currentColor" />
          </svg>
          Sextant
        </NavLink>
        <nav>
          <NavLink to="/search">Search</NavLink>
          <NavLink to="/trace/...">Compare</NavLink>
          <NavLink to="/dependencies">System Architecture</NavLink>
          <NavLink to="/monitor">Monitor</NavLink>
        </nav>
        <div className="spacer" />
        <TraceIdLookup />
        <button className="ghost" onClick={toggleTheme} title="Toggle light/dark theme" aria-label="Toggle theme">
          {theme === 'dark' ? '☀' : '☾'}
        </button>
      </header>
      <main>
        <Routes>
          <Route path="/" element={<Navigate to="/search" replace />} />
          <Route path="/search" element={<SearchPage />} />
          <Route path="/trace/:id" element={<TraceRoute />} />
          <Route path="/dependencies" element={<DependenciesPage />} />
          <Route path="/deep-dependencies" element={<Navigate to="/dependencies" replace />} />
          <Route path="/monitor" element={<MonitorPage />} />
          <Route path="/compare" element={<ComparePage a="" b="" />} />
          <Route path="*" element={<div className="page message">Page not found.</div>} />
        </Routes>
      </main>
    </div>
  );
}
