# SPDX-License-Identifier: GPL-2.0-or-later
# cmake --install, last step: the shipped spackle.conf and rules go in only
# where no file of that name is (a user's edits survive every install), and
# on a real install (no DESTDIR, as root) the user spackle is created and
# the store and log directories made its own.
set(dest "$ENV{DESTDIR}")

function(spackle_install_once src dst)
  if(EXISTS "${dest}${dst}")
    message(STATUS "Kept (yours): ${dest}${dst}")
  else()
    get_filename_component(dir "${dest}${dst}" DIRECTORY)
    file(MAKE_DIRECTORY "${dir}")
    configure_file("${src}" "${dest}${dst}" COPYONLY)
    message(STATUS "Installing: ${dest}${dst}")
  endif()
endfunction()

spackle_install_once("${SPACKLE_SRC}/etc/spackle.conf"
  /etc/spackle/spackle.conf)
file(GLOB rules "${SPACKLE_SRC}/rules/*.rules")
foreach(r ${rules})
  get_filename_component(name "${r}" NAME)
  spackle_install_once("${r}" "/etc/spackle/rules.d/${name}")
endforeach()

execute_process(COMMAND id -u OUTPUT_VARIABLE uid
  OUTPUT_STRIP_TRAILING_WHITESPACE)
if(dest STREQUAL "" AND uid STREQUAL "0")
  execute_process(COMMAND "${SPACKLE_SRC}/etc/add-user.sh"
    "${SPACKLE_SRC}/etc/sysusers.d/spackle.conf" RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "could not create the user spackle")
  endif()
  foreach(d /var/lib/spackle /var/log/spackle)
    execute_process(COMMAND chown spackle:spackle "${d}")
    execute_process(COMMAND chmod 0750 "${d}")
  endforeach()
  message(STATUS "User spackle; /var/lib/spackle and /var/log/spackle "
    "are its own")
else()
  message(STATUS "Staged install: create the user spackle on the target "
    "(systemd-sysusers, or etc/add-user.sh) and run systemd-tmpfiles "
    "--create spackle.conf there")
endif()
