; Inno Setup 6 script: a Windows installer for the PyInstaller folder build/dist/sd21-desktop.
;
;   python packaging\build.py --torch-index https://download.pytorch.org/whl/cpu
;   iscc /DAppVersion=0.1.0 packaging\windows\sd21-desktop.iss
;   (add /DDiskSpanning for a CUDA build: see [Setup])
;
; gives build\installers\sd21-desktop-<version>-windows-x64-cpu-setup.exe (/DFlavour=cuda names a
; CUDA build). Per-user install by default
; (no administrator rights, into %LOCALAPPDATA%\Programs); the first page offers an all-users
; install. The program never writes into its install folder: the gallery, settings and caches go
; to %LOCALAPPDATA%\sd21-desktop and models to the Hugging Face cache, so uninstalling leaves the
; user's images alone. Not built or tested on the Linux development machines: CI's windows-latest
; job (.github/workflows/build-installers.yml) runs it.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#ifndef SourceDir
  #define SourceDir "..\..\build\dist\sd21-desktop"
#endif
#ifndef Flavour
  #define Flavour "cpu"
#endif
#ifndef OutputDir
  #define OutputDir "..\..\build\installers"
#endif
#define AppName "SD21 Desktop"
#define AppExe "sd21-desktop.exe"
#define AppCli "sd21-desktop-cli.exe"

[Setup]
; AppId identifies the program to Windows' uninstaller across versions: never change it.
AppId={{6B0E3C52-6F1D-4C7B-9A3E-2F4D1E8A9C21}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=SD21 Desktop developers
AppPublisherURL=https://github.com/sd21-desktop/sd21-desktop
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
OutputDir={#OutputDir}
OutputBaseFilename=sd21-desktop-{#AppVersion}-windows-x64-{#Flavour}-setup
SetupIconFile=..\icons\sd21-desktop.ico
UninstallDisplayIcon={app}\{#AppExe}
UninstallDisplayName={#AppName}
Compression=lzma2/normal
SolidCompression=yes
#ifdef DiskSpanning
; A CUDA build is several GB, past what one setup .exe may hold: iscc /DDiskSpanning splits it
; into setup.exe + setup-N.bin files that must be shipped together.
DiskSpanning=yes
DiskSliceSize=max
#endif
WizardStyle=modern
ChangesEnvironment=no
CloseApplications=yes

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[InstallDelete]
; An upgrade replaces the bundled libraries wholesale, so stale files of an older torch never mix in.
Type: filesandordirs; Name: "{app}\_internal"

[Files]
Source: "{#SourceDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExe}"; WorkingDir: "{userdocs}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; WorkingDir: "{userdocs}"; Tasks: desktopicon

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[UninstallDelete]
; Only the install folder: the user's gallery and settings (%LOCALAPPDATA%\sd21-desktop) stay.
Type: dirifempty; Name: "{app}"
