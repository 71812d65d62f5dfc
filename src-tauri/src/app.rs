//! The tray process: a `tao` event loop for the tray icon and menu, a small tokio runtime for
//! the controller (which owns the proxy) and the [`ipc`] endpoint the settings window talks
//! to. The window is a separate process ([`crate::WINDOW_BIN`]), started on "Settings…" and at
//! first run, so WebKit's memory goes away with it. A second start asks the first, over the
//! same endpoint, to show its window, then exits.

use crate::commands::{Desktop, Shell, TrayHooks};
use crate::controller::Controller;
use crate::events::{notify_once, AUTOSTART_EVENT, SHOW_EVENT, STATUS_EVENT};
use crate::ipc::{self, Client, Server};
use crate::status::Status;
use crate::tray::{MenuId, TrayUi};
use crate::{instance, logging, settings, KEYCHAIN_SERVICE, PRODUCT_NAME, WINDOW_BIN};
use proxy::events::EventSink;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tao::event::{Event, StartCause};
use tao::event_loop::{ControlFlow, EventLoopBuilder, EventLoopProxy};
use tokio::runtime::Runtime;
use tokio::sync::broadcast::error::RecvError;
use tray_icon::menu::MenuEvent;

/// What reaches the event loop from other threads.
#[derive(Debug)]
enum UserEvent {
    Status(Box<Status>),
    Autostart(bool),
    Menu(MenuEvent),
    Quit,
}

/// Starts and finds the settings window process; the window-facing side of the tray.
struct Tray {
    loop_proxy: Mutex<EventLoopProxy<UserEvent>>,
    server: OnceLock<Arc<Server>>,
    window_exe: Option<PathBuf>,
    /// A window process we started is still running.
    child_running: Arc<AtomicBool>,
    focused: AtomicBool,
    /// `GDK_GL` was set by us and must not reach the window process.
    gl_set_here: bool,
}

impl Tray {
    fn send(&self, event: UserEvent) {
        if let Ok(p) = self.loop_proxy.lock() {
            let _ = p.send_event(event);
        }
    }

    fn start_window(&self) {
        let Some(exe) = &self.window_exe else {
            tracing::error!("cannot find the settings window program");
            return;
        };
        let mut cmd = Command::new(exe);
        cmd.stdin(Stdio::null());
        if self.gl_set_here {
            cmd.env_remove("GDK_GL");
        }
        match cmd.spawn() {
            Ok(mut child) => {
                self.child_running.store(true, Ordering::SeqCst);
                let running = self.child_running.clone();
                std::thread::spawn(move || {
                    let _ = child.wait();
                    running.store(false, Ordering::SeqCst);
                });
            }
            Err(e) => {
                tracing::error!(error = %e, exe = %exe.display(), "cannot open the settings window")
            }
        }
    }
}

impl TrayHooks for Tray {
    fn autostart_changed(&self, enabled: bool) {
        self.send(UserEvent::Autostart(enabled));
    }

    fn show_window(&self) {
        let Some(server) = self.server.get() else {
            return;
        };
        if server.windows() > 0 {
            server.emit(SHOW_EVENT, Value::Null);
        } else if !self.child_running.load(Ordering::SeqCst) {
            self.start_window();
        }
    }

    fn window_focused(&self, focused: bool) {
        self.focused.store(focused, Ordering::SeqCst);
    }
}

/// Asks a running tray process to show its window; true when one answered.
fn ask_running_instance(runtime: &Runtime, path: &Path) -> bool {
    let Ok(endpoint) = ipc::read_endpoint(path) else {
        return false;
    };
    runtime.block_on(async {
        let asked = async {
            let (client, _events) = Client::connect(&endpoint, "").await.ok()?;
            client.call("show", Value::Null).await.ok()
        };
        matches!(
            tokio::time::timeout(Duration::from_secs(3), asked).await,
            Ok(Some(_))
        )
    })
}

/// Becomes the one tray process of this user, or asks the running one to show its window and
/// returns `None`. Two starts at the same instant cannot both win: the lock decides.
fn claim(runtime: &Runtime, endpoint: Option<&Path>) -> Option<Option<std::fs::File>> {
    let Some(path) = endpoint else {
        return Some(None);
    };
    match instance::claim_instance(path) {
        Ok(instance::Instance::First(lock)) => Some(Some(lock)),
        Ok(instance::Instance::Taken) => {
            // The other tray may still be starting: give it a moment to listen.
            for _ in 0..30 {
                if ask_running_instance(runtime, path) {
                    return None;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            None
        }
        Err(e) => {
            eprintln!("openwebui-ollama-proxy-app: no instance lock ({e}); continuing");
            Some(None)
        }
    }
}

fn window_exe() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    Some(exe.with_file_name(format!("{WINDOW_BIN}{}", std::env::consts::EXE_SUFFIX)))
}

/// Runs the tray process until Quit (or SIGTERM).
pub fn run() {
    proxy::memory::return_large_allocations_when_freed();
    // The tray never draws with OpenGL; without this GTK probes GLX at start-up and loads the
    // Mesa driver (with llvmpipe, libLLVM: about 45 MB of the process's memory).
    let gl_set_here = cfg!(target_os = "linux") && std::env::var_os("GDK_GL").is_none();
    if gl_set_here {
        std::env::set_var("GDK_GL", "disable");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("tray-runtime")
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("openwebui-ollama-proxy-app: cannot start: {e}");
            std::process::exit(1);
        }
    };
    let endpoint_path = ipc::endpoint_path();
    let Some(_instance) = claim(&runtime, endpoint_path.as_deref()) else {
        println!("openwebui-ollama-proxy-app: already running; its window was asked to show");
        return;
    };
    let log_dir = logging::default_dir().and_then(|dir| match logging::init(&dir) {
        Ok(d) => Some(d),
        Err(e) => {
            eprintln!("openwebui-ollama-proxy-app: no log file: {e}");
            None
        }
    });
    tracing::info!(version = %env!("CARGO_PKG_VERSION"), logs = ?log_dir, "starting");

    #[allow(unused_mut)]
    let mut event_loop = EventLoopBuilder::<UserEvent>::with_user_event().build();
    // A tray app: no Dock icon on macOS.
    #[cfg(target_os = "macos")]
    {
        use tao::platform::macos::{ActivationPolicy, EventLoopExtMacOS};
        event_loop.set_activation_policy(ActivationPolicy::Accessory);
    }
    let menu_proxy = Mutex::new(event_loop.create_proxy());
    MenuEvent::set_event_handler(Some(move |e: MenuEvent| {
        if let Ok(p) = menu_proxy.lock() {
            let _ = p.send_event(UserEvent::Menu(e));
        }
    }));

    let store = Arc::new(proxy::credentials::KeyringStore::new(KEYCHAIN_SERVICE));
    let settings_path = settings::default_path();
    let cache_dir = proxy::cache::default_dir();
    tracing::info!(settings = ?settings_path, cache = ?cache_dir, "settings file and cache folder");
    let controller = Arc::new(Controller::new(
        store,
        settings_path,
        cache_dir,
        EventSink::default(),
    ));
    let desktop = Arc::new(Desktop::new(
        PRODUCT_NAME,
        std::env::current_exe().ok(),
        log_dir,
    ));
    let tray = Arc::new(Tray {
        loop_proxy: Mutex::new(event_loop.create_proxy()),
        server: OnceLock::new(),
        window_exe: window_exe(),
        child_running: Arc::new(AtomicBool::new(false)),
        focused: AtomicBool::new(false),
        gl_set_here,
    });
    let shell = Arc::new(Shell {
        controller: controller.clone(),
        desktop: desktop.clone(),
        tray: tray.clone(),
        version: env!("CARGO_PKG_VERSION").to_string(),
    });
    let handler: ipc::Handler = Arc::new(move |cmd, args| {
        let shell = shell.clone();
        Box::pin(async move { crate::commands::dispatch(&shell, &cmd, args).await })
    });
    let server = match runtime.block_on(Server::bind(handler)) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            tracing::error!(error = %e, "cannot open the local endpoint for the window");
            std::process::exit(1);
        }
    };
    if let Some(path) = &endpoint_path {
        if let Err(e) = ipc::write_endpoint(path, server.endpoint()) {
            tracing::error!(error = %e, path = %path.display(), "cannot write the endpoint file");
        }
    }
    let _ = tray.server.set(server.clone());

    spawn_forwarding(&runtime, &controller, &tray, &server);
    #[cfg(unix)]
    quit_on_sigterm(&runtime, tray.clone());
    {
        let (controller, tray) = (controller.clone(), tray.clone());
        runtime.spawn(async move {
            if controller.launch().await {
                tray.show_window();
            }
        });
    }

    let mut ui: Option<TrayUi> = None;
    event_loop.run(move |event, _, control_flow| {
        *control_flow = ControlFlow::Wait;
        match event {
            Event::NewEvents(StartCause::Init) => {
                match TrayUi::new(&controller.status(), desktop.autostart()) {
                    Ok(t) => ui = Some(t),
                    Err(e) => tracing::error!(error = %e, "cannot create the tray icon"),
                }
            }
            Event::UserEvent(UserEvent::Status(status)) => {
                if let Some(ui) = &ui {
                    ui.show(&status);
                }
            }
            Event::UserEvent(UserEvent::Autostart(on)) => {
                if let Some(ui) = &ui {
                    ui.show_autostart(on);
                }
            }
            Event::UserEvent(UserEvent::Menu(e)) => {
                let Some(id) = MenuId::parse(e.id().as_ref()) else {
                    return;
                };
                tracing::debug!(?id, "tray menu");
                match id {
                    MenuId::Status => {}
                    MenuId::Start => {
                        let c = controller.clone();
                        runtime.spawn(async move {
                            let _ = c.start().await;
                        });
                    }
                    MenuId::Stop => {
                        let c = controller.clone();
                        runtime.spawn(async move {
                            c.stop().await;
                        });
                    }
                    MenuId::CopyAddress => {
                        if let Err(e) = desktop.copy(controller.status().address) {
                            tracing::warn!(error = %e, "cannot copy the address");
                        }
                    }
                    MenuId::Settings => tray.show_window(),
                    MenuId::OpenLogs => {
                        if let Err(e) = desktop.open_logs() {
                            tracing::warn!(error = %e, "cannot open the logs");
                        }
                    }
                    MenuId::Autostart => {
                        let want = !desktop.autostart();
                        if let Err(e) = desktop.set_autostart(want) {
                            tracing::warn!(error = %e, "cannot change start at login");
                        }
                        let now = desktop.autostart();
                        if let Some(ui) = &ui {
                            ui.show_autostart(now);
                        }
                        server.emit(AUTOSTART_EVENT, Value::Bool(now));
                    }
                    MenuId::Quit => tray.send(UserEvent::Quit),
                }
            }
            Event::UserEvent(UserEvent::Quit) => {
                tracing::info!("quitting: stopping the proxy");
                runtime.block_on(controller.stop());
                if let Some(path) = &endpoint_path {
                    let _ = std::fs::remove_file(path);
                }
                ui = None;
                *control_flow = ControlFlow::Exit;
            }
            _ => {}
        }
    });
}

/// Core events fold into the status (and may raise a notification); every status change goes
/// to the tray and to the window. Both loops sleep until something happens: no timers.
fn spawn_forwarding(
    runtime: &Runtime,
    controller: &Arc<Controller>,
    tray: &Arc<Tray>,
    server: &Arc<Server>,
) {
    let mut events = controller.events().subscribe();
    let mut statuses = controller.subscribe();
    let (c, t, s) = (controller.clone(), tray.clone(), server.clone());
    runtime.spawn(async move {
        let mut notified = false;
        loop {
            match events.recv().await {
                Ok(event) => {
                    c.observe(&event);
                    let (body, now) = notify_once(&event, notified);
                    notified = now;
                    // Not while the user looks at the window, which shows the problem already.
                    let looking = s.windows() > 0 && t.focused.load(Ordering::SeqCst);
                    if let Some(body) = body.filter(|_| !looking) {
                        tokio::task::spawn_blocking(move || notify(&body));
                    }
                }
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => break,
            }
        }
    });
    let (t, s) = (tray.clone(), server.clone());
    runtime.spawn(async move {
        loop {
            let status = statuses.borrow_and_update().clone();
            match serde_json::to_value(&status) {
                Ok(v) => s.emit(STATUS_EVENT, v),
                Err(e) => tracing::debug!(error = %e, "cannot send the status to the window"),
            }
            t.send(UserEvent::Status(Box::new(status)));
            if statuses.changed().await.is_err() {
                break;
            }
        }
    });
}

fn notify(body: &str) {
    let shown = notify_rust::Notification::new()
        .appname(PRODUCT_NAME)
        .summary("Open WebUI sign-in failed")
        .body(body)
        .show();
    if let Err(e) = shown {
        tracing::warn!(error = %e, "cannot show a notification");
    }
}

/// Treats SIGTERM (logout, `kill`) like Quit, so the proxy stops gracefully.
#[cfg(unix)]
fn quit_on_sigterm(runtime: &Runtime, tray: Arc<Tray>) {
    use tokio::signal::unix::{signal, SignalKind};
    runtime.spawn(async move {
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                if term.recv().await.is_some() {
                    tracing::info!("SIGTERM: quitting");
                    tray.send(UserEvent::Quit);
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot listen for SIGTERM"),
        }
    });
}
