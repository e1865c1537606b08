; NSIS additions: a per-machine install starts the tray at every user's login, and installs the
; system agent as a Windows service (docs/system-agent.md), as the MSI does with ServiceInstall
; (build/win/msi-project-created.cjs; a test keeps the two in step). The SCM starts Shawl
; (DeviceTrustAgentService.exe), which runs dta-agent.exe and restarts it; sc.exe failure sets
; the SCM's own recovery for Shawl. nsExec runs the tools without a console window.
!macro customInstall
  WriteRegStr HKLM "Software\Microsoft\Windows\CurrentVersion\Run" "Device Trust Agent" '"$INSTDIR\Device Trust Agent.exe" --hidden'

  ; The agent's data folder: SYSTEM and Administrators only, nothing inherited from ProgramData.
  ReadEnvStr $R0 PROGRAMDATA
  CreateDirectory "$R0\DeviceTrust"
  nsExec::ExecToLog `"$SYSDIR\icacls.exe" "$R0\DeviceTrust" /inheritance:r /grant:r *S-1-5-18:(OI)(CI)F *S-1-5-32-544:(OI)(CI)F`
  Pop $0

  ; Created on a fresh install; an update (the old uninstaller stopped it) reconfigures it.
  StrCpy $R1 `"$INSTDIR\DeviceTrustAgentService.exe" run --name DeviceTrustAgent --restart --restart-delay 10000 --stop-timeout 10000 --kill-process-tree --log-dir "$R0\DeviceTrust\logs" --log-as service --log-cmd-as agent -- "$INSTDIR\dta-agent.exe" agent --config "$R0\DeviceTrust\agent.json"`
  ; sc.exe takes the whole command line as one argument: its quotes are escaped as \".
  Push $R1
  Call escapeQuotesForSc
  Pop $R1
  nsExec::ExecToLog `"$SYSDIR\sc.exe" create DeviceTrustAgent binPath= "$R1" start= auto obj= LocalSystem DisplayName= "Device Trust Agent"`
  Pop $0
  ${if} $0 == 1073 ; ERROR_SERVICE_EXISTS
    nsExec::ExecToLog `"$SYSDIR\sc.exe" config DeviceTrustAgent binPath= "$R1" start= auto obj= LocalSystem DisplayName= "Device Trust Agent"`
    Pop $0
  ${endif}
  nsExec::ExecToLog `"$SYSDIR\sc.exe" description DeviceTrustAgent "Checks this device's security posture and proves it to the hospital's access services."`
  Pop $0
  ; Restart after 10 s on every failure (the last action repeats); the count resets after a day.
  nsExec::ExecToLog `"$SYSDIR\sc.exe" failure DeviceTrustAgent reset= 86400 actions= restart/10000/restart/10000/restart/10000`
  Pop $0
  nsExec::ExecToLog `"$SYSDIR\sc.exe" start DeviceTrustAgent`
  Pop $0
!macroend

!macro customUnInstall
  DeleteRegValue HKLM "Software\Microsoft\Windows\CurrentVersion\Run" "Device Trust Agent"
  ; Stop the service before its files are removed or replaced (net stop waits until it has
  ; stopped; sc stop would not), and delete it only on a real uninstall: an update keeps it,
  ; and the new version's customInstall reconfigures and starts it.
  nsExec::ExecToLog `"$SYSDIR\net.exe" stop DeviceTrustAgent`
  Pop $0
  ${ifNot} ${isUpdated}
    nsExec::ExecToLog `"$SYSDIR\sc.exe" delete DeviceTrustAgent`
    Pop $0
  ${endif}
!macroend

; Replaces every " with \" in the string on the stack (sc.exe's binPath= is one quoted argument).
!ifndef BUILD_UNINSTALLER
Function escapeQuotesForSc
  Exch $0 ; the input
  Push $1 ; the output
  Push $2 ; the index
  Push $3 ; the character
  StrCpy $1 ""
  StrCpy $2 0
  loop:
    StrCpy $3 $0 1 $2
    StrCmp $3 "" done
    StrCmp $3 '"' 0 plain
    StrCpy $1 `$1\"`
    Goto next
  plain:
    StrCpy $1 "$1$3"
  next:
    IntOp $2 $2 + 1
    Goto loop
  done:
  Pop $3
  Pop $2
  StrCpy $0 $1
  Pop $1
  Exch $0
FunctionEnd
!endif
