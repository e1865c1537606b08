; NSIS additions: a per-machine install starts the tray at every user's login.
!macro customInstall
  WriteRegStr HKLM "Software\Microsoft\Windows\CurrentVersion\Run" "Device Trust Agent" '"$INSTDIR\Device Trust Agent.exe" --hidden'
!macroend
!macro customUnInstall
  DeleteRegValue HKLM "Software\Microsoft\Windows\CurrentVersion\Run" "Device Trust Agent"
!macroend
