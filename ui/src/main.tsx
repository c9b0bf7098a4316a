import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { BrowserRouter } from 'react-router-dom';
import App from './App';
import { prefetchFromLocation } from './lib/prefetch';
import './styles.css';

// The router's basename is the server-injected <base href> (e.g. "/jaeger/"), so deep links
// such as /jaeger/trace/{id} route correctly under --query.base-path.
const basename = new URL(document.baseURI).pathname.replace(/\/$/, '') || '/';

prefetchFromLocation(basename);

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <BrowserRouter basename={basename}>
      <App />
    </BrowserRouter>
  </StrictMode>,
);
