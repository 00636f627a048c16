/*
 * Opcodes of the Wayland interfaces vmsilo-wl-test speaks: the position
 * of each request and event in wayland.xml (1.21) and xdg-shell.xml
 * (stable), counted from 0 per interface and direction.
 */
#ifndef VMSILO_WL_PROTO_H
#define VMSILO_WL_PROTO_H

/* Requests */
#define WL_DISPLAY_SYNC			0
#define WL_DISPLAY_GET_REGISTRY		1
#define WL_REGISTRY_BIND		0
#define WL_COMPOSITOR_CREATE_SURFACE	0
#define WL_SHM_CREATE_POOL		0
#define WL_SHM_POOL_CREATE_BUFFER	0
#define WL_SURFACE_ATTACH		1
#define WL_SURFACE_DAMAGE		2
#define WL_SURFACE_FRAME		3
#define WL_SURFACE_COMMIT		6
#define WL_SURFACE_DAMAGE_BUFFER	9	/* since 4 */
#define XDG_WM_BASE_GET_XDG_SURFACE	2
#define XDG_WM_BASE_PONG		3
#define XDG_SURFACE_GET_TOPLEVEL	1
#define XDG_SURFACE_ACK_CONFIGURE	4
#define XDG_TOPLEVEL_SET_TITLE		2
#define XDG_TOPLEVEL_SET_APP_ID		3
#define WL_SEAT_GET_KEYBOARD		1
#define WL_DATA_DEVICE_MANAGER_CREATE_DATA_SOURCE 0
#define WL_DATA_DEVICE_MANAGER_GET_DATA_DEVICE	1
#define WL_DATA_SOURCE_OFFER		0
#define WL_DATA_DEVICE_SET_SELECTION	1
#define WL_DATA_OFFER_RECEIVE		1

/* Events */
#define WL_REGISTRY_GLOBAL		0
#define WL_CALLBACK_DONE		0
#define WL_BUFFER_RELEASE		0
#define XDG_WM_BASE_PING		0
#define XDG_SURFACE_CONFIGURE		0
#define XDG_TOPLEVEL_CONFIGURE		0
#define WL_KEYBOARD_KEYMAP		0
#define WL_DATA_SOURCE_SEND		1
#define WL_DATA_DEVICE_DATA_OFFER	0
#define WL_DATA_DEVICE_SELECTION	5
#define WL_DATA_OFFER_OFFER		0

#define WL_SHM_FORMAT_XRGB8888		1
#define DRM_FORMAT_XRGB8888		0x34325258u	/* 'X' 'R' '2' '4' */

#endif
